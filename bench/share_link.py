"""Benchmark: a share link to a chart page opened in a fresh browser, on the bundled sample data.

    .venv/bin/python bench/share_link.py                      # 5 repeats of each case, Markdown on stdout
    .venv/bin/python bench/share_link.py --repeats 3 --json /tmp/share.json
    .venv/bin/python bench/run.py --steps share-link          # the same, as a section of bench/RESULTS.md

The app runs as it does for a manager: ``streamlit run dashboard.py`` on loopback (through
``bench/timed_streamlit.py``, which logs how long each script run took on the server), on a new SQLite
database holding the sample. The link is the Skin tone page with filters (Fitzpatrick IV–VI and the
sample's first clinic). Each repeat opens it in a **new Chromium context** (empty cache, no cookies:
a colleague's browser the first time) and times, from the start of navigation:

* DOMContentLoaded of the HTML page;
* script bundles: the end of the last JavaScript file (their number and size too);
* connected: the websocket to the server is open and the session set up;
* first run: the page's first script run has finished in the browser (server time logged separately);
* first chart: the first plotly chart has drawn (``.js-plotly-plot .main-svg``);
* all charts: every plotly chart of the page has drawn — what the manager waits for.

Two cases: *server warm* (the server has served this view before, so the dataset and its statistics
are in its caches: the usual case for a link sent to a colleague) and *server just started* (the
server is restarted before each repeat, so this first session pays whatever is not done at start-up).
Medians are reported. Needs Debian's Chromium (``/usr/bin/chromium``, or ``$LASERDASH_CHROMIUM``);
Playwright never downloads a browser. No time is asserted anywhere.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TARGET_S = 2.5
PAGE_PATH = "Skin_tone"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
MARK = "BENCH-SCRIPT"

#: Runs in the page before any of its own scripts: notes (performance.now(), ms since navigation start)
#: when the app connects, when its first script run starts and ends, and when charts are drawn.
MARKS_JS = """
(() => {
  const marks = {};
  window.__benchMarks = marks;
  const mark = (name) => { if (!(name in marks)) marks[name] = performance.now(); };
  const drawn = () => {
    const charts = document.querySelectorAll('[data-testid="stPlotlyChart"]');
    let done = 0;
    charts.forEach((c) => { if (c.querySelector('.js-plotly-plot .main-svg')) done += 1; });
    return [charts.length, done];
  };
  const check = (records) => {
    for (const r of records) {
      if (r.type === 'attributes' && r.attributeName === 'data-test-script-state'
          && (r.oldValue === 'running' || r.target.getAttribute('data-test-script-state') === 'running')) {
        mark('run_start');
      }
    }
    const app = document.querySelector('[data-testid="stApp"]');
    if (!app) return;
    if (app.getAttribute('data-test-connection-state') === 'CONNECTED') mark('connected');
    const state = app.getAttribute('data-test-script-state');
    if (state === 'running') mark('run_start');
    if (state === 'notRunning' && 'run_start' in marks) mark('run_done');
    const [charts, done] = drawn();
    if (done > 0) mark('first_chart');
    if ('run_done' in marks && charts > 0 && done === charts) { mark('all_charts'); marks.charts = charts; }
  };
  new MutationObserver(check).observe(document, {subtree: true, childList: true, attributes: true,
                                                 attributeOldValue: true});
})();
"""

COLLECT_JS = """
() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const scripts = performance.getEntriesByType('resource').filter((e) => /\\.js(\\?|$)/.test(e.name));
  const plotly = scripts.filter((e) => e.name.includes('/PlotlyChart.'))[0];
  return {
    plotly_requested: plotly ? plotly.startTime : null,
    plotly_loaded: plotly ? plotly.responseEnd : null,
    origin_ms: performance.timeOrigin,
    dom_content_loaded: nav.domContentLoadedEventEnd,
    html_response_end: nav.responseEnd,
    scripts_end: Math.max(0, ...scripts.map((e) => e.responseEnd)),
    scripts_count: scripts.length,
    scripts_kb: scripts.reduce((s, e) => s + (e.encodedBodySize || 0), 0) / 1024,
    marks: window.__benchMarks,
  };
}
"""

#: What a row of the report shows, in order: (key, label).
PHASES = (("dom_content_loaded", "DOMContentLoaded"), ("scripts_end", "script bundles loaded"),
          ("connected", "connected"), ("run_done", "first run finished"),
          ("plotly_requested", "plotly.js requested"), ("plotly_loaded", "plotly.js loaded"),
          ("first_chart", "first chart drawn"), ("all_charts", "all charts drawn"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def chromium() -> str:
    for path in (os.environ.get("LASERDASH_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if path and Path(path).is_file() and os.access(path, os.X_OK):
            return path
    raise SystemExit("share-link: Chromium not found (install Debian's chromium or set LASERDASH_CHROMIUM)")


class Server:
    """``streamlit run dashboard.py`` on a free loopback port, its script runs timed (bench/timed_streamlit.py)."""

    def __init__(self, db_url: str, log: Path, root: Path = ROOT, extra: list[str] | None = None,
                 cpus: set[int] | None = None) -> None:
        """``cpus``: the CPUs the server may run on (``os.sched_setaffinity`` before it starts, so every thread
        it makes inherits them); None: any."""
        self.db_url, self.log, self.root, self.extra = db_url, log, root, list(extra or [])
        self.cpus = set(cpus) if cpus else None
        log.write_text("")
        self.proc: subprocess.Popen | None = None
        self.base = ""

    def start(self) -> float:
        """Start and wait until healthy; return the seconds that took."""
        port = free_port()
        cmd = [sys.executable, str(ROOT / "bench" / "timed_streamlit.py"), "run", "dashboard.py",
               "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
               "--browser.gatherUsageStats", "false", *self.extra]
        started = time.perf_counter()
        cpus = self.cpus
        self.proc = subprocess.Popen(cmd, cwd=self.root, env={**os.environ, "LASERDASH_DB_URL": self.db_url},
                                     stdout=subprocess.DEVNULL, stderr=self.log.open("a"),
                                     preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None)
        self.base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with {self.proc.returncode}; see {self.log}")
            try:
                with urllib.request.urlopen(f"{self.base}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        return time.perf_counter() - started
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"streamlit did not become healthy within 120 s; see {self.log}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None

    def script_runs(self, since_epoch: float) -> list[float]:
        """Seconds of each script run the server started after ``since_epoch``."""
        marks = re.findall(re.escape(MARK) + r" (\d+\.\d+) (\d+\.\d+)", self.log.read_text())
        return [float(seconds) for start, seconds in marks if float(start) >= since_epoch]


def share_link(db_url: str) -> str:
    """The sample dataset in the store (imported when absent) and the query of a filtered Skin tone view."""
    from analysis.present import urlstate
    from analysis.records.filters import Filters
    from analysis.records.store import Store

    store = Store(db_url)
    store.ensure_sample()
    dataset = store.sample_id()
    clinic = sorted(store.load(dataset).outcomes["clinic"].dropna().unique())[0]
    filters = Filters(clinics=(str(clinic),), fitzpatrick_types=(4, 5, 6))
    return f"/{PAGE_PATH}?" + urlencode(urlstate.to_params(dataset, filters), doseq=True)


def open_link(browser, url: str, server: Server) -> dict:
    """Open ``url`` in a new browser context; the phases in seconds from the start of navigation."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        context.add_init_script(MARKS_JS)
        page = context.new_page()
        page.goto(url, wait_until="domcontentloaded", timeout=120_000)
        page.wait_for_function("() => window.__benchMarks && window.__benchMarks.all_charts !== undefined",
                               timeout=120_000, polling=50)
        got = page.evaluate(COLLECT_JS)
    finally:
        context.close()
    marks = got.pop("marks")
    out = {key: got[key] / 1000 for key in ("dom_content_loaded", "html_response_end", "scripts_end",
                                            "plotly_requested", "plotly_loaded") if got.get(key) is not None}
    out.update({key: marks[key] / 1000 for key in ("connected", "run_start", "run_done", "first_chart", "all_charts")})
    out["charts"] = marks["charts"]
    out["scripts_count"], out["scripts_kb"] = got["scripts_count"], got["scripts_kb"]
    runs = server.script_runs(got["origin_ms"] / 1000)
    out["server_script_s"] = sum(runs)
    out["server_runs"] = len(runs)
    return out


def measure(repeats: int, work: Path, roots: list[Path], extra: list[str]) -> dict:
    """Both cases for each checkout in ``roots``, their repeats interleaved (A, B, A, B, ...) so that a
    machine busy with other work slows each of them alike."""
    from playwright.sync_api import sync_playwright

    db_url = f"sqlite:///{work / 'share.db'}"
    link = share_link(db_url)
    result: dict = {"link": link, "repeats": repeats, "extra": extra, "by_root": {}}
    servers = {root: Server(db_url, work / f"streamlit-{i}.log", root, extra) for i, root in enumerate(roots)}
    runs = {root: {"server warm": [], "server just started": []} for root in roots}
    starts: dict[Path, list[float]] = {root: [] for root in roots}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        try:
            for _ in range(repeats):                       # server just started: restarted before each repeat
                for root, server in servers.items():
                    starts[root].append(server.start())
                    try:
                        runs[root]["server just started"].append(open_link(browser, server.base + link, server))
                    finally:
                        server.stop()
            for server in servers.values():
                server.start()
            try:                                           # server warm: it has served this view once
                for server in servers.values():
                    open_link(browser, server.base + link, server)
                for _ in range(repeats):
                    for root, server in servers.items():
                        runs[root]["server warm"].append(open_link(browser, server.base + link, server))
            finally:
                for server in servers.values():
                    server.stop()
        finally:
            browser.close()
    for root in roots:
        result["by_root"][str(root)] = {"cases": runs[root], "server_start_s": statistics.median(starts[root])}
    result["loadavg"] = os.getloadavg()[0]
    return result


def medians(runs: list[dict]) -> dict:
    return {key: statistics.median(r[key] for r in runs) for key in runs[0]}


def render(result: dict) -> list[str]:
    """The report's section (Markdown lines)."""
    several = len(result["by_root"]) > 1
    first = next(iter(next(iter(result["by_root"].values()))["cases"].values()))[0]
    phases = [(key, label) for key, label in PHASES if key in first]
    lines = [f"Link: `{result['link'].split('?')[0]}` with a clinic and Fitzpatrick IV–VI selected, on the sample "
             f"(5,000 treatments); median of {result['repeats']} fresh Chromium contexts per case; seconds from the "
             f"start of navigation. Target: all charts drawn in under {TARGET_S} s. 1-minute load average at the "
             f"end: {result['loadavg']:.1f} on {os.cpu_count()} CPUs."
             + (f" Server options: `{' '.join(result['extra'])}`." if result["extra"] else ""), "",
             "| " + ("code | " if several else "") + "case | " + " | ".join(label for _, label in phases)
             + " | server script s (runs) | JS files (kB) | all runs: all charts drawn | target |",
             "|" + ("---|" if several else "") + "---|" + "---:|" * (len(phases) + 3) + "---|"]
    for root, measured in result["by_root"].items():
        for case, runs in measured["cases"].items():
            m = medians(runs)
            every = ", ".join(f"{r['all_charts']:.2f}" for r in runs)
            lines.append("| " + (f"`{root}` | " if several else "") + f"{case} | "
                         + " | ".join(f"{m[key]:.2f}" for key, _ in phases)
                         + f" | {m['server_script_s']:.2f} ({m['server_runs']:.0f}) | {m['scripts_count']:.0f} "
                         f"({m['scripts_kb']:,.0f}) | {every} | {'met' if m['all_charts'] < TARGET_S else '**not met**'} |")
    starts = ", ".join(f"{m['server_start_s']:.1f} s" for m in result["by_root"].values())
    lines += ["", f"Server start (process start to healthy), median: {starts}."]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="fresh browser contexts per case (default 5)")
    parser.add_argument("--json", type=Path, help="also write the raw numbers here")
    parser.add_argument("--compare", type=Path, nargs="*", default=[],
                        help="other checkouts of the app (e.g. `git worktree add /tmp/before HEAD~1`) to measure "
                             "alongside this one, repeats interleaved")
    parser.add_argument("--server-option", action="append", default=[], metavar="--SECTION.OPTION=VALUE",
                        help="a streamlit option for every server, e.g. --server-option=--runner.postScriptGC=false")
    args = parser.parse_args(argv)
    roots = [ROOT, *(p.resolve() for p in args.compare)]
    with tempfile.TemporaryDirectory(prefix="laserdash-share-") as tmp:
        result = measure(args.repeats, Path(tmp), roots, args.server_option)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    print("\n".join(render(result)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
