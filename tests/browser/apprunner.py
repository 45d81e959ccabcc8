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
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}; see {log}")
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return proc, base
        except OSError:
            time.sleep(0.5)
    proc.terminate()
    raise RuntimeError(f"streamlit did not become healthy within 90 s; see {log}")
