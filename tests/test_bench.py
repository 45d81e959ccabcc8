"""The benchmark still runs (CI smoke test). Never asserts timings: speed is measured in bench/, not tested.

Runs ``bench/run.py --quick`` (10,000 and 100,000 treatments) with one repeat per step: about a minute
on the 2-core machine. If that grows past ~2 minutes, pass ``--sizes 2000 20000`` instead of ``--quick``.
"""

from __future__ import annotations

import subprocess
import sys

from testpaths import ROOT

SIZES = (10000, 100000)
COLUMNS = ("treatments", "CSV MB", "bare parse s", "import s", "import / bare", "import peak MB",
           "append s", "load after append s", "messy import / bare", "messy import peak MB", "first load s",
           "all stats cold s", "all stats cached ms", "filter cold ms", "filter cached ms", "page 1st run s",
           "page rerun ms", "page filter cold ms", "app peak MB")


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def test_benchmark_runs_and_writes_the_table(tmp_path):
    out = tmp_path / "RESULTS.md"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--repeats", "1",
         "--out", str(out), "--data-dir", str(tmp_path / "data")],
        cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    text = out.read_text()
    lines = text.splitlines()
    header_at = next(i for i, line in enumerate(lines) if line.startswith("| treatments |"))
    header = _cells(lines[header_at])
    for column in COLUMNS:
        assert column in header, column
    rows = {}
    for line in lines[header_at + 2:]:
        if not line.startswith("|"):
            break
        cells = _cells(line)
        assert len(cells) == len(header), line
        rows[cells[0]] = dict(zip(header, cells))
    for size in SIZES:
        row = rows[f"{size:,}"]
        missing = [c for c in COLUMNS if row[c] in ("", "—")]
        assert not missing, f"{size}: no value for {missing}"
    assert "target (1,000,000)" in rows
    assert "did not complete" not in text
    assert not (tmp_path / "data").exists()  # a --data-dir other than the default is cleaned up


def test_load_bench_client_runs_against_the_sample(tmp_path):
    """bench/load.py's WebSocket client opens the Overview on the bundled sample in a real server and makes two
    filter changes (so the protocol code does not rot); no timing is asserted."""
    import json

    from ui.setup import KEY_FITZ

    sys.path.insert(0, str(ROOT / "bench"))
    import load

    assert load.KEY_FITZ == KEY_FITZ   # the widget the client changes is the app's Fitzpatrick filter
    assert load.fitz_steps(4) == [["IV"], ["IV", "V"], ["V"], ["V", "VI"]]
    out = tmp_path / "load.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "load.py"), "--sample", "--sessions", "1", "--changes", "2",
         "--scenarios", "same", "--think", "0", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    [row] = json.loads(out.read_text())["runs"]
    assert (row["sessions"], row["changes"], row["errors"]) == (1, 2, 0), row["error_examples"]
    assert "Selection: Fitzpatrick IV, V ·" in row["example_line"]
    assert row["server_runs"] >= 2
    assert "| same view | 1 | 2 |" in proc.stdout
