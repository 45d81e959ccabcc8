"""``streamlit`` with each script run timed on the server, for bench/share_link.py.

    python bench/timed_streamlit.py run dashboard.py --server.port 8765 ...

Same arguments as the ``streamlit`` command. Every script run (one ``ScriptRunner._run_script`` call:
the page script from its first line to its last, reruns it asks for included) prints one line on
stderr::

    BENCH-SCRIPT <epoch seconds at its start> <seconds it took>

With ``$LASERDASH_BENCH_PROFILE`` set to a folder, each run is also profiled (cProfile) into
``run-<n>.prof`` there (``python -m pstats``); the timings then include the profiler's overhead.
Nothing else changes; the app itself holds no timing code.
"""

from __future__ import annotations

import cProfile
import itertools
import os
import sys
import time

from streamlit.runtime.scriptrunner import script_runner
from streamlit.web import cli

MARK = "BENCH-SCRIPT"
_original = script_runner.ScriptRunner._run_script
_PROFILE = os.environ.get("LASERDASH_BENCH_PROFILE")
_count = itertools.count(1)


def _timed(self, rerun_data):  # type: ignore[no-untyped-def]
    started, clock = time.time(), time.perf_counter()
    profile = cProfile.Profile() if _PROFILE else None
    try:
        if profile is None:
            return _original(self, rerun_data)
        return profile.runcall(_original, self, rerun_data)
    finally:
        if profile is not None:
            profile.dump_stats(os.path.join(_PROFILE, f"run-{next(_count)}.prof"))
        # One write per line: runs of concurrent sessions end in several threads at once.
        sys.stderr.write(f"{MARK} {started:.4f} {time.perf_counter() - clock:.4f}\n")
        sys.stderr.flush()


script_runner.ScriptRunner._run_script = _timed

if __name__ == "__main__":
    sys.argv[0] = "streamlit"
    sys.exit(cli.main())
