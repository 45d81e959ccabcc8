"""How often the Trends & clinics page's monthly p-charts flag something on data where nothing changes.

Usage::

    .venv/bin/python bench/monthly_null.py                     # seeds 1-60, 300 and 2,000 treatments
    .venv/bin/python bench/monthly_null.py --datasets 200 --treatments 300 2000 5000

Each dataset is one of ``bench/false_alarms.py``'s null worlds (no modality, clinic, practitioner or month
differs), followed up to 2026-06-01 so every month is judged. A dataset counts once per kind when any
monthly finding of that kind appears: a month outside its control limits, a shift, a trend (the sentences
"... a shift worth looking into", "... a trend worth looking into"), or any "worth looking into".
"""

from __future__ import annotations

import argparse
import collections
import sys
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from analysis.findings import monitoring  # noqa: E402
from false_alarms import null_records  # noqa: E402


def count(seeds: range, n: int) -> collections.Counter:
    found: collections.Counter = collections.Counter()
    for seed in seeds:
        trend = monitoring.monthly(null_records(seed, n), follow_up_until=date(2026, 6, 1))
        said = [f.sentence for f in trend.findings]
        found["a month outside its limits"] += any(p.signal for c in trend.charts.values() for p in c.points)
        found["a shift"] += any("shift worth looking into" in s for s in said)
        found["a trend"] += any("trend worth looking into" in s for s in said)
        found["anything 'worth looking into'"] += any("worth looking into" in s for s in said)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, default=60)
    parser.add_argument("--treatments", type=int, nargs="+", default=[300, 2000])
    args = parser.parse_args(argv)
    seeds = range(1, args.datasets + 1)
    kinds = ("a month outside its limits", "a shift", "a trend", "anything 'worth looking into'")
    print("| treatments | datasets | " + " | ".join(kinds) + " |")
    print("|---:|---:|---:|---:|---:|---:|")
    for n in args.treatments:
        c = count(seeds, n)
        cells = [c[k] for k in kinds]
        print(f"| {n:,} | {len(seeds)} | " + " | ".join(f"{v} ({100 * v / len(seeds):.1f} %)" for v in cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
