"""Start the dashboard as a real server for browser tests (``streamlit run dashboard.py`` on a free port)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(db_url: str, log: Path, *, port: int | None = None,
              secrets: Path | None = None) -> tuple[subprocess.Popen, str]:
    """Start ``streamlit run dashboard.py`` on a loopback port (a free one unless given); return it and its URL.

    ``secrets`` replaces ``.streamlit/secrets.toml`` (e.g. an ``[auth]`` section for sign-in tests).
    """
    port = port or free_port()
    env = {**os.environ, "LASERDASH_DB_URL": db_url}
    cmd = [sys.executable, "-m", "streamlit", "run", "dashboard.py", "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"]
    if secrets is not None:
        cmd += ["--secrets.files", str(secrets)]
    out = log.open("w")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    wait_until_serving(proc, f"{base}/_stcore/health", "streamlit", log, seconds=90)
    return proc, base


def wait_until_serving(proc: subprocess.Popen, url: str, what: str, log: Path, seconds: float = 30) -> None:
    """Wait until ``url`` answers 200 (``proc`` serving it); stop it and raise, naming ``log``, if it never does."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}; see {log}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    stop(proc)
    raise RuntimeError(f"{what} did not answer within {seconds:g} s; see {log}")


def stop(proc: subprocess.Popen, seconds: float = 20) -> None:
    """Terminate a server started for a test, killing it if it does not stop within ``seconds``."""
    proc.terminate()
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.kill()
