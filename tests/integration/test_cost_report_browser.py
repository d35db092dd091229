"""The cost report's HTML page opened in a real headless Chromium (from the OS packages; `make setup` installs it
where it is missing): it loads with no console error and no CSP violation, its three charts are in the rendered
DOM with their bars, line and anomaly mark, and the screenshot shows them in their colours. The screenshot is kept
as a test artefact in ``out/test-artifacts/cost-report.png`` (``out/`` is git-ignored).

Skipped, saying why, only where no Chromium binary exists.
"""
from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from collections import Counter
from pathlib import Path

import pytest

from churnguard_ops.cost.charts import ANOMALY_COLOUR, CATEGORY_COLOURS, SAVING_COLOUR
from churnguard_ops.cost.report_html import render_cost_report_html
from tests.cost_sample import sample_report

pytestmark = pytest.mark.integration

ARTEFACT = Path(__file__).resolve().parents[2] / "out" / "test-artifacts" / "cost-report.png"
WIDTH, HEIGHT = 1280, 2400
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
#: What Chromium logs (with --enable-logging=stderr) when a page misbehaves: a console message (the page has no
#: script, so any is a fault), an uncaught error, a resource or inline thing refused by the CSP, a failed load.
PAGE_TROUBLE = re.compile(r"CONSOLE|Uncaught|Refused to|Content Security Policy|net::ERR_|Failed to load", re.I)


def browser() -> str:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip(f"no Chromium binary ({', '.join(BROWSERS)}) on PATH: `make setup` installs the OS package "
                "`chromium` where apt can reach a mirror")


def run(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--disable-sync",
               f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, f"chromium exited {result.returncode}: {result.stderr[-2000:]}"
    return result


def trouble(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if PAGE_TROUBLE.search(line)]


def png_pixels(data: bytes) -> tuple[int, int, Counter[tuple[int, int, int]]]:
    """Width, height and a count of every RGB colour of an 8-bit RGB or RGBA, non-interlaced PNG (what
    Chromium writes), with the standard library only."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, chunks, header = 8, [], b""
    while pos < len(data):
        (length,), kind = struct.unpack(">I", data[pos:pos + 4]), data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks.append(body)
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour, interlace)
    channels = 3 if colour == 2 else 4
    stride = width * channels
    raw = zlib.decompress(b"".join(chunks))
    low, high = int.from_bytes(b"\x7f" * stride, "big"), int.from_bytes(b"\x80" * stride, "big")
    previous = bytearray(stride)
    counts: Counter[tuple[int, int, int]] = Counter()
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        if kind == 2:  # "up", most rows: add the row above byte by byte (mod 256) as one big integer
            a, b = int.from_bytes(line, "big"), int.from_bytes(previous, "big")
            line = bytearray((((a & low) + (b & low)) ^ ((a ^ b) & high)).to_bytes(stride, "big"))
        for i in range(stride if kind in (1, 3, 4) else 0):  # undo the other row filters (PNG spec 9.2)
            left = line[i - channels] if i >= channels else 0
            up, up_left = previous[i], previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - up_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else up_left)) & 0xFF
        counts.update(zip(line[0::channels], line[1::channels], line[2::channels], strict=True))
        previous = line
    return width, height, counts


def rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cost-report") / "cost-report.html"
    path.write_text(render_cost_report_html(sample_report()), encoding="utf-8")
    return path


def test_the_page_renders_with_no_console_error_and_its_charts_in_the_dom(page: Path, tmp_path: Path) -> None:
    binary = browser()
    result = run(binary, tmp_path / "profile", "--dump-dom", page.as_uri())
    assert not trouble(result.stderr), trouble(result.stderr)
    dom = result.stdout
    charts = {m.group(1): m.group(0) for m in re.finditer(r'<svg class="chart" id="([\w-]+)".*?</svg>', dom, re.S)}
    assert set(charts) == {"chart-services", "chart-daily", "chart-savings"}
    report = sample_report()
    assert charts["chart-services"].count("<rect ") == len(report.services)
    assert charts["chart-savings"].count("<rect ") == len(report.top_recommendations)
    assert re.search(r'<path class="line" d="M[\d.]+,[\d.]+( L[\d.]+,[\d.]+){34}"', charts["chart-daily"])
    assert charts["chart-daily"].count('<g class="anomaly">') == 1
    assert "Cost report" in dom and "$1,250.23" in dom


def test_the_screenshot_shows_the_charts_and_is_kept_as_an_artefact(page: Path, tmp_path: Path) -> None:
    binary = browser()
    shot = tmp_path / "cost-report.png"
    result = run(binary, tmp_path / "profile", f"--screenshot={shot}", f"--window-size={WIDTH},{HEIGHT}",
                 "--hide-scrollbars", page.as_uri())
    assert not trouble(result.stderr), trouble(result.stderr)
    assert shot.is_file()
    ARTEFACT.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, ARTEFACT)
    data = shot.read_bytes()
    assert len(data) > 50_000  # a blank or error page compresses to a few kB
    width, height, colours = png_pixels(data)
    assert (width, height) == (WIDTH, HEIGHT)
    assert len(colours) > 200  # text, tables, charts: many colours, not a blank page
    # The bars are filled with their exact colours; the anomaly's centre dot with its red.
    assert colours[rgb(CATEGORY_COLOURS["compute"])] > 5_000  # the EC2 and Lambda bars (and the trend line)
    assert colours[rgb(CATEGORY_COLOURS["database"])] > 5_000  # the RDS bar
    assert colours[rgb(SAVING_COLOUR)] > 10_000  # the top-savings bars and the storage bars
    assert colours[rgb(ANOMALY_COLOUR)] > 20  # the anomaly mark


def test_the_console_check_sees_script_errors_and_csp_violations(tmp_path: Path) -> None:
    """The checks above are not vacuous: this Chromium logs what they look for."""
    binary = browser()
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><html><head><meta http-equiv=\"Content-Security-Policy\" "
                   "content=\"default-src 'none'\"><title>bad</title></head><body><script>missing()</script>"
                   "<p>bad</p></body></html>", encoding="utf-8")
    assert any("Content Security Policy" in line for line in trouble(run(binary, tmp_path / "p1", "--dump-dom",
                                                                         bad.as_uri()).stderr))
    bad.write_text("<!DOCTYPE html><html><head><title>bad</title></head><body><script>missing()</script>"
                   "</body></html>", encoding="utf-8")
    assert any("Uncaught ReferenceError" in line
               for line in trouble(run(binary, tmp_path / "p2", "--dump-dom", bad.as_uri()).stderr))
