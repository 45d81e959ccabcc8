"""Several people at once: N concurrent sessions change filters on one Streamlit server (issue 14).

    .venv/bin/python bench/load.py                                 # N = 1, 4, 8 on 1,000,000 treatments: Markdown
    .venv/bin/python bench/load.py --sessions 8 --json /tmp/l.json  # one N, raw numbers too
    .venv/bin/python bench/load.py --validate                      # the client against a real Chromium page, once
    .venv/bin/python bench/load.py --sample --sessions 1 --changes 2   # the bundled sample (tests/test_bench.py)
    .venv/bin/python bench/run.py --steps concurrent               # the same, as a section of bench/RESULTS.md

**The server.** ``streamlit run dashboard.py`` on a free loopback port (``bench/share_link.py``'s ``Server``,
through ``bench/timed_streamlit.py``, which logs each script run's duration), on a database of its own:
``bench-load.db`` next to the generated CSVs in ``--data-dir`` (default ``/tmp/laserdash-bench/n1000000``),
imported once with ``bench/run.py``'s ``import`` step (``--fresh-db`` imports again) from the CSVs
``bench/run.py`` generates (and caches) there. A new server is started for each N, so no N finds the
statistics of another in the caches; a warm-up session opens the page first, so the dataset is loaded
(``ui.setup.load_records``) before any session is timed.

**The sessions** are Streamlit WebSocket clients, not browsers, so the load generator costs little CPU. Each
does what the browser's frontend (streamlit 1.67) does, message for message: it opens ``/_stcore/stream``
(subprotocol ``streamlit``, same-origin ``Origin``, permessage-deflate offered as Chromium does), sends the
first ``rerun_script`` with the page's query string and the browser's context info, reads every ForwardMsg:
widget elements (their state is kept as the frontend keeps it: the element's value when ``set_value`` is
set, else its default for a widget not seen before, and dropped when a finished run no longer draws it),
``page_info_changed`` (the query string the next rerun sends), ``new_session`` (the page script hash, the
message cache's age limit), and ForwardMsgs the server marked cacheable (kept, their hashes sent back as
``cached_message_hashes`` so the server sends references to them, as it does to a browser). A filter change
sets the Fitzpatrick multiselect's ``string_array_value`` (the option labels, as 1.67's frontend sends them)
and sends a ``rerun_script`` with every active widget's state. ``--validate`` checks this once against a real
Chromium page (Playwright, ``/usr/bin/chromium``): the same change made by clicking in the page must send the
same widget states (ids and values) and show the same selection line (dataset, filters, treatments).

**Click-to-idle** is from sending that rerun to the ``script_finished`` ForwardMsg of the run it started
(a run cut short for a rerun does not end it). The browser's own drawing is not in it (one Chromium page
draws the Overview in well under a second; see the share-link bench). **Errors**: an exception element, an
error alert (``st.error``), a compile error, a ``page_not_found``, a cached-message reference the client
does not hold, a run not finished within ``--timeout``, and a dropped connection.

**Scenarios**, each session changing the Fitzpatrick filter ``--changes`` times, one tag added or removed per
change (IV; IV, V; V; V, VI; VI; VI, I; ...), waiting ``--think`` seconds after each page is idle, sessions
starting ``--stagger`` seconds apart:

* *same view*: every session opens the Overview on the whole dataset and walks the same filters (managers of
  one clinic looking at the same thing: what the server can share between sessions);
* *own view*: session i opens a share link with its own clinic and treatment area (3 x 5 combinations), then
  walks the same Fitzpatrick changes: no two sessions ever ask for the same selection.

**CPUs.** The machine has 2 cores. The server is started with ``os.sched_setaffinity`` to CPU 0 (every
thread it makes inherits it) and this process, which runs every client in one asyncio loop, pins itself to
CPU 1 (``--server-cpus`` / ``--client-cpus``; ``--no-pin`` leaves both free). Other work on the machine is not
pinned and may run on either CPU, so on a shared machine the figures are upper bounds: the report gives the
1-minute load average before and after each N, and the server's CPU seconds per filter change (from
``/proc/PID/stat``), which other work inflates far less than wall time. No time is asserted anywhere.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
for _path in (ROOT, HERE):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

SIZE = 1_000_000
SESSIONS = (1, 4, 8)
CHANGES = 10
THINK_S = 1.0
STAGGER_S = 0.5
TIMEOUT_S = 180.0
TARGET_P95_S = 2.0
TARGET_SESSIONS = 8
SCENARIOS = ("same view", "own view")
KEY_FITZ = "f_fitz"          # ui.setup.KEY_FITZ (not imported: importing ui pulls in streamlit's runtime)
ROMAN = ("I", "II", "III", "IV", "V", "VI")
DB_NAME = "bench-load.db"
MARKER = "bench-load.json"

#: What Chromium sends as context_info (tests run it in UTC, en-US, light theme).
CONTEXT = {"timezone": "UTC", "timezone_offset": 0, "locale": "en-US", "is_embedded": False, "color_scheme": "light"}


def fitz_steps(n: int) -> list[list[str]]:
    """``n`` Fitzpatrick selections, each one click from the last (a tag added, then the older one removed):
    IV; IV, V; V; V, VI; VI; VI, I; I; ... (12 different selections before it repeats)."""
    current, k, out = [ROMAN[3]], 3, []
    for i in range(n):
        if i % 2 == 1:
            k += 1
            current = current + [ROMAN[k % 6]]
        elif i:
            current = current[1:]
        out.append(list(current))
    return out


# ------------------------------------------------------------------------------------------------
# the client: one browser tab's worth of Streamlit protocol
# ------------------------------------------------------------------------------------------------

@dataclass
class RunResult:
    seconds: float
    status: str
    line: str
    errors: list[str] = field(default_factory=list)


class Session:
    """One Streamlit session over the WebSocket, speaking as streamlit 1.67's frontend does (see the docstring)."""

    WIDGETS = ("selectbox", "radio", "multiselect", "date_input", "checkbox", "text_input", "text_area")

    def __init__(self, base: str, link: str, timeout: float = TIMEOUT_S) -> None:
        parts = urlsplit(base + link)
        self.base, self.url = base, base + link
        self.page_name = parts.path.strip("/")
        self.query = parts.query
        self.timeout = timeout
        self.ws = None
        self.widgets: dict[str, object] = {}         # widget id -> WidgetState (what the frontend would send)
        self.drawn: set[str] = set()                  # widget ids drawn by the current run
        self.page_script_hash = ""
        self.cache: dict[str, tuple[int, bytes]] = {}  # hash -> (run count when last used, encoded message)
        self.max_age = 2
        self.runs = 0
        self.line = ""
        self.sent: list[bytes] = []                   # every BackMsg, encoded (for --validate)

    async def open(self) -> None:
        import websockets

        ws_url = self.base.replace("http://", "ws://", 1) + "/_stcore/stream"
        self.ws = await websockets.connect(ws_url, subprotocols=["streamlit"], origin=self.base, max_size=None,
                                           open_timeout=self.timeout, ping_interval=None)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()

    def widget_id(self, key: str) -> str:
        found = [w for w in self.widgets if w.endswith("-" + key)]
        if len(found) != 1:
            raise LookupError(f"widget with key {key!r}: {len(found)} found among {sorted(self.widgets)}")
        return found[0]

    def set_multiselect(self, key: str, values: list[str]) -> None:
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        state = WidgetState(id=self.widget_id(key))
        state.string_array_value.data.extend(values)
        self.widgets[state.id] = state

    def _rerun_msg(self) -> bytes:
        from streamlit.proto.BackMsg_pb2 import BackMsg

        msg = BackMsg()
        rerun = msg.rerun_script
        rerun.query_string = self.query
        for state in self.widgets.values():
            rerun.widget_states.widgets.append(state)
        if self.page_script_hash:
            rerun.page_script_hash = self.page_script_hash
        elif self.page_name:
            rerun.page_name = self.page_name
        rerun.cached_message_hashes.extend(self.cache)
        for name, value in CONTEXT.items():
            setattr(rerun.context_info, name, value)
        rerun.context_info.url = self.url
        return msg.SerializeToString()

    async def rerun(self) -> RunResult:
        """Send a rerun with the current widget states; wait for its run to finish."""
        import websockets

        payload = self._rerun_msg()
        self.sent.append(payload)
        errors: list[str] = []
        started = time.perf_counter()
        await self.ws.send(payload)
        self.drawn = set()
        try:
            async with asyncio.timeout(self.timeout):
                while True:
                    raw = await self.ws.recv()
                    if isinstance(raw, str):
                        continue
                    status = self._handle(raw, errors)
                    if status is not None:
                        return RunResult(time.perf_counter() - started, status, self.line, errors)
        except TimeoutError:
            errors.append(f"no script_finished within {self.timeout:.0f} s")
        except websockets.ConnectionClosed as exc:
            errors.append(f"disconnected: {exc}")
        return RunResult(time.perf_counter() - started, "failed", self.line, errors)

    def _handle(self, raw: bytes, errors: list[str]) -> str | None:
        """Process one ForwardMsg; the run's end status when it is the script_finished that ends the run."""
        from streamlit.proto.Alert_pb2 import Alert
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        msg = ForwardMsg()
        msg.ParseFromString(raw)
        kind = msg.WhichOneof("type")
        if kind == "ref_hash":
            held = self.cache.get(msg.ref_hash)
            if held is None:
                errors.append(f"reference to a message the client does not hold ({msg.ref_hash})")
                return None
            self.cache[msg.ref_hash] = (self.runs, held[1])
            msg = ForwardMsg()
            msg.ParseFromString(held[1])
            kind = msg.WhichOneof("type")
        elif msg.metadata.cacheable and msg.hash and msg.hash not in self.cache:
            self.cache[msg.hash] = (self.runs, raw)
        if kind == "new_session":
            self.page_script_hash = msg.new_session.page_script_hash
            self.max_age = msg.new_session.config.max_cached_message_age or self.max_age
        elif kind == "page_info_changed":
            self.query = msg.page_info_changed.query_string
        elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            element = msg.delta.new_element
            etype = element.WhichOneof("type")
            if etype == "exception":
                errors.append(f"exception {element.exception.type}: {element.exception.message[:200]}")
            elif etype == "alert" and element.alert.format == Alert.ERROR:
                errors.append(f"error shown: {element.alert.body[:200]}")
            elif etype == "text" and element.text.body.startswith("Dataset:"):
                self.line = element.text.body
            elif etype in self.WIDGETS:
                self._widget(etype, getattr(element, etype))
        elif kind == "session_event" and msg.session_event.HasField("script_compilation_exception"):
            errors.append("script compilation error")
        elif kind == "page_not_found":
            errors.append("page not found")
        elif kind == "script_finished":
            status = ForwardMsg.ScriptFinishedStatus.Name(msg.script_finished)
            if msg.script_finished == ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                return None
            if msg.script_finished == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                errors.append("script finished with a compile error")
            self._finished()
            return status
        return None

    def _finished(self) -> None:
        """As the frontend does when a run ends: age the message cache, forget widgets the run did not draw."""
        self.runs += 1
        self.cache = {h: v for h, v in self.cache.items() if self.runs - v[0] <= self.max_age}
        self.widgets = {i: s for i, s in self.widgets.items() if i in self.drawn}

    def _widget(self, etype: str, proto) -> None:  # type: ignore[no-untyped-def]
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        self.drawn.add(proto.id)
        if proto.id in self.widgets and not proto.set_value:
            return
        state = WidgetState(id=proto.id)
        if etype in ("selectbox", "radio"):
            if proto.set_value and proto.HasField("raw_value"):
                state.string_value = proto.raw_value
            elif proto.HasField("default") and proto.options:
                state.string_value = proto.options[proto.default]
            else:
                return
        elif etype == "multiselect":
            state.string_array_value.data.extend(
                proto.raw_values if proto.set_value else [proto.options[i] for i in proto.default])
        elif etype == "date_input":
            state.string_array_value.data.extend(proto.value if proto.set_value else proto.default)
        elif etype == "checkbox":
            state.bool_value = proto.value if proto.set_value else proto.default
        else:  # text_input, text_area
            if proto.set_value and proto.HasField("value"):
                state.string_value = proto.value
            elif proto.HasField("default"):
                state.string_value = proto.default
            else:
                return
        self.widgets[proto.id] = state


# ------------------------------------------------------------------------------------------------
# the load: N sessions at once
# ------------------------------------------------------------------------------------------------

def views(dataset_id: str, choices: dict, scenario: str, n: int) -> list[str]:
    """The link each session opens (path + query)."""
    from analysis.records.filters import Filters
    from analysis.present import urlstate

    out = []
    for i in range(n):
        filters = Filters()
        if scenario == "own view":
            clinics, areas = choices["clinics"], choices["areas"]
            filters = Filters(clinics=(clinics[i % len(clinics)],), areas=(areas[(i // len(clinics)) % len(areas)],))
        out.append("/?" + urlencode(urlstate.to_params(dataset_id, filters), doseq=True))
    return out


async def one_session(index: int, base: str, link: str, changes: int, think: float, stagger: float,
                      timeout: float) -> dict:
    await asyncio.sleep(index * stagger)
    session = Session(base, link, timeout)
    out: dict = {"session": index, "link": link, "changes": [], "errors": [], "lines": []}
    try:
        started = time.perf_counter()
        await session.open()
        first = await session.rerun()
        out["open_s"] = time.perf_counter() - started
        out["errors"] += first.errors
        if first.status == "failed":
            return out
        for fitz in fitz_steps(changes):
            await asyncio.sleep(think)
            session.set_multiselect(KEY_FITZ, fitz)
            run = await session.rerun()
            out["changes"].append(run.seconds)
            out["lines"].append(run.line)
            out["errors"] += run.errors
            if run.status == "failed":
                break
    except Exception as exc:  # noqa: BLE001 - a client failure is an error of the run, reported, not raised
        out["errors"].append(f"client: {type(exc).__name__}: {exc}")
    finally:
        try:
            await session.close()
        except Exception:  # noqa: BLE001
            pass
    return out


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def self_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank, so p95 of 10 values is the largest but 0)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered), max(1, math.ceil(q / 100 * len(ordered)))) - 1]


def measure_n(server, links: list[str], args: argparse.Namespace) -> dict:
    """Start ``len(links)`` sessions (staggered), each making ``args.changes`` filter changes."""
    load_before = os.getloadavg()[0]
    since = time.time()
    cpu_server, cpu_client = proc_cpu_s(server.proc.pid), self_cpu_s()
    wall = time.perf_counter()

    async def everyone() -> list[dict]:
        return await asyncio.gather(*(one_session(i, server.base, link, args.changes, args.think, args.stagger,
                                                  args.timeout) for i, link in enumerate(links)))

    sessions = asyncio.run(everyone())
    wall = time.perf_counter() - wall
    cpu_server, cpu_client = proc_cpu_s(server.proc.pid) - cpu_server, self_cpu_s() - cpu_client
    times = [t for s in sessions for t in s["changes"]]
    errors = [e for s in sessions for e in s["errors"]]
    expected = len(links) * args.changes
    if len(times) < expected:
        errors.append(f"{expected - len(times)} filter change(s) not made")
    # Every session that asked for the same filters must have been shown the same selection.
    by_step: dict[tuple[str, int], set[str]] = {}
    for s in sessions:
        for step, line in enumerate(s["lines"]):
            by_step.setdefault((s["link"], step), set()).add(line.rsplit("·", 1)[-1].strip())
    errors += [f"sessions with the same filters were shown {sorted(seen)}" for seen in by_step.values() if len(seen) > 1]
    runs = server.script_runs(since)
    return {"sessions": len(links), "changes": len(times), "p50_s": pct(times, 50), "p95_s": pct(times, 95),
            "max_s": max(times, default=float("nan")), "mean_s": statistics.fmean(times) if times else float("nan"),
            "errors": len(errors), "error_examples": errors[:5],
            "open_p50_s": statistics.median([s["open_s"] for s in sessions if "open_s" in s] or [float("nan")]),
            "server_runs": len(runs), "server_run_p50_s": pct(runs, 50), "server_run_p95_s": pct(runs, 95),
            "server_cpu_s": cpu_server, "server_cpu_per_change_s": cpu_server / max(1, len(times)),
            "client_cpu_s": cpu_client, "wall_s": wall, "loadavg_before": load_before,
            "loadavg_after": os.getloadavg()[0], "times": times, "example_line": (sessions[0]["lines"] or [""])[-1]}


# ------------------------------------------------------------------------------------------------
# the database, the server
# ------------------------------------------------------------------------------------------------

def database(args: argparse.Namespace, work: Path) -> tuple[str, str]:
    """(database URL, dataset id): the bundled sample in a new database (``--sample``), or the ``--size``
    dataset imported once into ``bench-load.db`` next to bench/run.py's generated CSVs (which it makes if absent)."""
    from analysis.records.store import Store

    if args.sample:
        url = f"sqlite:///{work / 'sample.db'}"
        store = Store(url)
        store.ensure_sample()
        dataset = store.sample_id()
        store.engine.dispose()
        return url, dataset
    import run as bench_run   # bench/run.py: its data, its import step

    run_args = bench_run.parse_args(["--data-dir", str(args.data_dir), "--sizes", str(args.size), "--repeats", "1",
                                     "--steps", "import"])
    folder = args.data_dir.resolve() / f"n{args.size}"
    url = f"sqlite:///{folder / DB_NAME}"
    marker = folder / MARKER
    outcomes, side = bench_run.data_files(run_args.data_dir, args.size)
    done = outcomes.parent / "done.json"
    log_dir = run_args.data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    if not (outcomes.exists() and side.exists() and done.exists()
            and json.loads(done.read_text()) == {"size": args.size, "seed": bench_run.SEED}):
        say(f"generating {args.size:,} treatments in {folder} (bench/run.py generate)")
        folder.mkdir(parents=True, exist_ok=True)
        bench_run.run_child("generate", run_args, args.size, log_dir)
    want = {"size": args.size, "seed": bench_run.SEED, "csv_mtime": outcomes.stat().st_mtime}
    if not args.fresh_db and marker.exists() and Path(url.removeprefix("sqlite:///")).exists():
        held = json.loads(marker.read_text())
        if {k: held.get(k) for k in want} == want:
            return url, held["dataset_id"]
    say(f"importing {args.size:,} treatments into {DB_NAME} (bench/run.py import, once)")
    marker.unlink(missing_ok=True)
    out = bench_run.run_child("import", run_args, args.size, log_dir, db=url)
    marker.write_text(json.dumps({**want, "dataset_id": out["dataset_id"]}))
    return url, out["dataset_id"]


def filter_choices(url: str, dataset_id: str) -> dict:
    """The clinics and treatment areas the dataset offers (the own-view links), read as the app reads them."""
    from analysis.records.filters import options, prepare
    from analysis.records.store import Store

    store = Store(url)
    try:
        opts = options(prepare(store.load(dataset_id)))
    finally:
        store.engine.dispose()
    return {"clinics": opts["clinics"], "areas": opts["areas"]}


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def pin(cpus: set[int] | None) -> None:
    if cpus:
        os.sched_setaffinity(0, cpus)


def cpu_set(text: str) -> set[int] | None:
    return {int(x) for x in text.split(",") if x.strip()} or None


def warm_up(server, link: str, timeout: float) -> float:
    """One session opens ``link`` (the dataset gets loaded into the server's cache); the seconds it took."""
    async def go() -> RunResult:
        session = Session(server.base, link, timeout)
        await session.open()
        try:
            return await session.rerun()
        finally:
            await session.close()

    result = asyncio.run(go())
    if result.errors or result.status == "failed":
        raise RuntimeError(f"warm-up failed: {result.errors}")
    return result.seconds


def measure(args: argparse.Namespace) -> dict:
    from share_link import Server

    server_cpus, client_cpus = (None, None) if args.no_pin else (cpu_set(args.server_cpus), cpu_set(args.client_cpus))
    pin(client_cpus)
    result: dict = {"size": None if args.sample else args.size, "changes": args.changes, "think_s": args.think,
                    "stagger_s": args.stagger, "server_cpus": sorted(server_cpus or []),
                    "client_cpus": sorted(client_cpus or []), "cpus": os.cpu_count(), "runs": []}
    with tempfile.TemporaryDirectory(prefix="laserdash-load-") as tmp:
        work = Path(tmp)
        url, dataset = database(args, work)
        choices = filter_choices(url, dataset)
        result["treatments_label"] = "the bundled sample (5,000 treatments)" if args.sample else f"{args.size:,} treatments"
        for scenario in args.scenarios:
            for n in args.sessions:
                server = Server(url, work / f"streamlit-{scenario.replace(' ', '-')}-{n}.log", cpus=server_cpus)
                say(f"{scenario}, {n} session(s): starting the server")
                server.start()
                try:
                    links = views(dataset, choices, scenario, n)
                    warm = warm_up(server, links[0].split("&")[0] if scenario == "own view" else links[0], args.timeout)
                    say(f"{scenario}, {n} session(s): warm-up {warm:.1f} s; {n} x {args.changes} filter changes")
                    got = measure_n(server, links, args)
                    got.update(scenario=scenario, warm_up_s=warm)
                    result["runs"].append(got)
                    if args.json:   # so far, in case a later row fails
                        args.json.write_text(json.dumps(result, indent=1))
                    say(f"  p50 {got['p50_s']:.2f} s, p95 {got['p95_s']:.2f} s, errors {got['errors']}, "
                        f"server CPU {got['server_cpu_per_change_s']:.2f} s per change, load {got['loadavg_after']:.1f}")
                finally:
                    server.stop()
    return result


# ------------------------------------------------------------------------------------------------
# faithfulness: the same change made in a real Chromium page
# ------------------------------------------------------------------------------------------------

def _states(payload: bytes) -> dict[str, str]:
    from streamlit.proto.BackMsg_pb2 import BackMsg

    msg = BackMsg()
    msg.ParseFromString(payload)
    if msg.WhichOneof("type") != "rerun_script":
        return {}
    return {w.id: str(getattr(w, w.WhichOneof("value"))).replace("\n", " ").strip()
            for w in msg.rerun_script.widget_states.widgets}


def validate(args: argparse.Namespace) -> dict:
    """Open the same link in Chromium and in the client, make the same Fitzpatrick change in both, compare what
    each sent the server (widget states) and the selection line each was shown."""
    from playwright.sync_api import sync_playwright
    from share_link import CHROMIUM_ARGS, Server, chromium

    idle = "() => document.querySelector('[data-testid=stApp]')?.getAttribute('data-test-script-state') === 'notRunning'"
    with tempfile.TemporaryDirectory(prefix="laserdash-load-") as tmp:
        work = Path(tmp)
        url, dataset = database(args, work)
        link = views(dataset, filter_choices(url, dataset), "same view", 1)[0]
        fitz = fitz_steps(2)   # IV, then IV and V: two options added, as two clicks in the page
        server = Server(url, work / "streamlit-validate.log")
        server.start()
        try:
            warm_up(server, link, args.timeout)
            sent: list[bytes] = []
            lines = []
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
                try:
                    page = browser.new_page(viewport={"width": 1400, "height": 1000})
                    page.on("websocket", lambda ws: ws.on("framesent", lambda data: sent.append(data)
                                                          if isinstance(data, bytes) else None))
                    page.goto(server.base + link)
                    page.wait_for_selector('[data-testid="stApp"][data-test-connection-state="CONNECTED"]',
                                           timeout=int(args.timeout * 1000))
                    page.wait_for_function(idle, timeout=int(args.timeout * 1000))
                    line = page.locator('[data-testid="stMain"] [data-testid="stText"]').first
                    for values in fitz:   # as a manager does: open the list, click the option, close it
                        before = line.inner_text()
                        page.locator(f".st-key-{KEY_FITZ} input[role=combobox]").click()
                        page.get_by_role("option", name=values[-1], exact=True).click()
                        page.keyboard.press("Escape")
                        page.wait_for_function("(old) => { const e = document.querySelector("
                                               "'[data-testid=stMain] [data-testid=stText]'); return e && "
                                               "e.innerText !== old; }", arg=before, timeout=int(args.timeout * 1000))
                        page.wait_for_function(idle, timeout=int(args.timeout * 1000))
                        lines.append(line.inner_text().strip())
                finally:
                    browser.close()
            browser_reruns = [s for s in (_states(x) for x in sent) if s]

            async def client() -> tuple[list[dict], list[str], list[str]]:
                session = Session(server.base, link, args.timeout)
                await session.open()
                errors, shown = [], []
                try:
                    errors += (await session.rerun()).errors
                    for values in fitz:
                        session.set_multiselect(KEY_FITZ, values)
                        run = await session.rerun()
                        errors += run.errors
                        shown.append(run.line.strip())
                finally:
                    await session.close()
                return [_states(x) for x in session.sent], shown, errors

            client_reruns, client_lines, client_errors = asyncio.run(client())
        finally:
            server.stop()
    # The browser's last len(fitz) reruns are the changes (the ones before: opening the page, reruns it asked for).
    b_changes, c_changes = browser_reruns[-len(fitz):], client_reruns[-len(fitz):]
    same_states = b_changes == c_changes
    same_lines = lines == client_lines
    return {"link": link, "changes": fitz, "browser_lines": lines, "client_lines": client_lines,
            "browser_widget_states": b_changes, "client_widget_states": c_changes,
            "same_widget_states": same_states, "same_lines": same_lines, "client_errors": client_errors,
            "faithful": same_states and same_lines and not client_errors}


# ------------------------------------------------------------------------------------------------
# report
# ------------------------------------------------------------------------------------------------

def render(result: dict) -> list[str]:
    pinned = (f"server pinned to CPU {','.join(map(str, result['server_cpus']))}, the load generator (every client, "
              f"one asyncio loop) to CPU {','.join(map(str, result['client_cpus']))} (`os.sched_setaffinity`)"
              if result["server_cpus"] else "server and clients not pinned")
    lines = [f"{result['treatments_label'].capitalize()}, Overview page; each session makes {result['changes']} "
             f"Fitzpatrick filter changes (one tag added or removed per change), {result['think_s']:g} s after the "
             f"page is idle, sessions starting {result['stagger_s']:g} s apart; a new server for each row; "
             f"{pinned}; {result['cpus']} CPUs. Click-to-idle = rerun sent to its `script_finished` received. "
             f"Target (bench only): {TARGET_SESSIONS} sessions, p95 under {TARGET_P95_S:g} s and 0 errors.", "",
             "| scenario | sessions | changes | p50 s | p95 s | max s | errors | server script runs: p50 / p95 s "
             "| server CPU s per change | load generator CPU s | 1-min load avg before / after | target |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in result["runs"]:
        target = ""
        if r["sessions"] == TARGET_SESSIONS:
            target = "met" if r["p95_s"] < TARGET_P95_S and r["errors"] == 0 else "**not met**"
        lines.append(f"| {r['scenario']} | {r['sessions']} | {r['changes']} | {r['p50_s']:.2f} | {r['p95_s']:.2f} | "
                     f"{r['max_s']:.2f} | {r['errors']} | {r['server_run_p50_s']:.2f} / {r['server_run_p95_s']:.2f} | "
                     f"{r['server_cpu_per_change_s']:.2f} | {r['client_cpu_s']:.1f} | "
                     f"{r['loadavg_before']:.1f} / {r['loadavg_after']:.1f} | {target} |")
    errors = [e for r in result["runs"] for e in r["error_examples"]]
    if errors:
        lines += ["", "Errors (first few): " + "; ".join(f"`{e}`" for e in errors[:5])]
    return lines


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=list(SESSIONS), help="N (default 1 4 8)")
    parser.add_argument("--changes", type=int, default=CHANGES, help=f"filter changes per session (default {CHANGES})")
    parser.add_argument("--think", type=float, default=THINK_S, help=f"seconds between a page idle and the next change "
                        f"(default {THINK_S:g})")
    parser.add_argument("--stagger", type=float, default=STAGGER_S, help=f"seconds between session starts "
                        f"(default {STAGGER_S:g})")
    parser.add_argument("--scenarios", nargs="+", choices=("same", "own"), default=["same", "own"],
                        help="'same': every session the same view; 'own': each its own clinic and area (default both)")
    parser.add_argument("--size", type=int, default=SIZE, help=f"treatments (default {SIZE:,})")
    parser.add_argument("--sample", action="store_true", help="the bundled sample (5,000 treatments) in a new database")
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "laserdash-bench",
                        help="bench/run.py's data directory (default /tmp/laserdash-bench)")
    parser.add_argument("--fresh-db", action="store_true", help=f"import the dataset into {DB_NAME} again")
    parser.add_argument("--server-cpus", default="0", help="CPUs for the server (default 0)")
    parser.add_argument("--client-cpus", default="1", help="CPUs for the clients (default 1)")
    parser.add_argument("--no-pin", action="store_true", help="pin neither")
    parser.add_argument("--timeout", type=float, default=TIMEOUT_S, help="seconds a run may take before it is an error")
    parser.add_argument("--validate", action="store_true",
                        help="compare the client with a real Chromium page making the same changes, then exit")
    parser.add_argument("--json", type=Path, help="also write the raw numbers here")
    args = parser.parse_args(argv)
    args.scenarios = [s + " view" for s in args.scenarios]
    if len(os.sched_getaffinity(0)) < 2 and not args.no_pin:
        args.no_pin = True
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.validate:
        got = validate(args)
        if args.json:
            args.json.write_text(json.dumps(got, indent=1))
        print(json.dumps({k: v for k, v in got.items() if "widget_states" not in k}, indent=1))
        if not got["same_widget_states"]:
            print("browser sent:", json.dumps(got["browser_widget_states"], indent=1))
            print("client sent: ", json.dumps(got["client_widget_states"], indent=1))
        return 0 if got["faithful"] else 1
    result = measure(args)
    result["loadavg_end"] = Path("/proc/loadavg").read_text().strip()
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    print("\n".join(render(result)))
    return 1 if any(r["changes"] == 0 for r in result["runs"]) else 0


if __name__ == "__main__":
    raise SystemExit(main())
