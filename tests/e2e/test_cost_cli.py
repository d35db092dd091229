"""opsctl cost report as a user runs it: the embedded default seeded with a realistic account, the deployed
function invoked, the headline printed and the report copied out; bad input refused before anything starts."""
from __future__ import annotations

import json
import re

import pytest

from tests.e2e.test_cli_errors import STARTED, error_line
from tests.e2e.test_opsctl import opsctl

pytestmark = pytest.mark.e2e


def test_cost_report_local_prints_the_headline_and_writes_the_html_report(tmp_path):
    done = opsctl("cost", "report", "--local", "--out", str(tmp_path))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # 843.25 saved of the seeded bill (opsctl/cost_world.py; worked out in tests/integration/test_cost_local.py)
    assert re.search(r"potential saving\s+\$843\.25/month \(\d+\.\d %\), 15 recommendations", done.stdout)
    assert re.search(r"Cost Explorer\s+3 request\(s\), \$0\.03", done.stdout)
    assert re.search(r"CloudWatch\s+97 metrics in 1 GetMetricData call", done.stdout)
    assert "from the bundled table" in done.stdout and "has no Pricing API" in done.stdout
    assert "Traceback" not in done.stderr  # the embedded AWS's missing Pricing API is said, not dumped
    html = tmp_path / "report.html"
    assert f"HTML report: {html.resolve()}" in done.stdout
    assert "<html" in html.read_text()[:2000].lower()
    headline = json.loads((tmp_path / "cost-report.json").read_text())
    assert headline["potential_monthly_saving_usd"] == 843.25 and headline["recommendations"] == 15
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["totals"]["potential_monthly_saving_usd"] == 843.25
    assert (tmp_path / "report.md").read_text().strip()


@pytest.mark.parametrize(("args", "expected"), [
    (["--lookback-days", "0"], r"opsctl cost report: --lookback-days 0: Input should be greater than or equal to 1"),
    (["--lookback-days", "64"], r"--lookback-days 64: Input should be less than or equal to 63"),
    (["--out", "pyproject.toml"], r"--out pyproject.toml: exists and is not a directory"),
])
def test_bad_input_is_one_line_exit_2_before_anything_starts(args, expected):
    done = opsctl("cost", "report", "--local", *args)
    assert re.search(expected, error_line(done)), done.stderr[-2000:]
    assert STARTED not in done.stderr
