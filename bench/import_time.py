"""Cold-import cost of each Lambda handler, as a ratio to ``import boto3`` measured in the same run.

Each sample is a fresh interpreter (a cold start imports everything once), timed from inside the
child with perf_counter around the import alone, so interpreter start-up is excluded. Goal: <= 1.5x.
"""
from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = 7
GOAL = 1.5

_CHILD = """
import sys, time
sys.path.insert(0, {code_dir!r})
t = time.perf_counter()
{statement}
print(time.perf_counter() - t)
"""


def _sample(statement: str, code_dir: str = "") -> float:
    code = _CHILD.format(code_dir=code_dir, statement=statement)
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def _median(statement: str, code_dir: str = "") -> float:
    _sample(statement, code_dir)  # warm the .pyc and OS file caches
    return statistics.median(_sample(statement, code_dir) for _ in range(SAMPLES))


def main() -> int:
    baseline = _median("import boto3")
    results = {"baseline_import_boto3_s": round(baseline, 4), "handlers": {}}
    print(f"baseline  import boto3: {baseline * 1000:7.1f} ms (median of {SAMPLES})")
    worst = 0.0
    for app in sorted((ROOT / "functions").glob("*/app.py")):
        seconds = _median("import app", str(app.parent))
        ratio = seconds / baseline
        worst = max(worst, ratio)
        results["handlers"][app.parent.name] = {"import_s": round(seconds, 4), "ratio": round(ratio, 2)}
        print(f"handler   {app.parent.name:<10}: {seconds * 1000:7.1f} ms  ratio {ratio:4.2f}x  "
              f"({'ok' if ratio <= GOAL else 'over'} goal {GOAL}x)")
    if len(sys.argv) > 1:
        Path(sys.argv[1]).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
