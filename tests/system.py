"""System packages the tests need (Chromium, PostgreSQL, nginx): installed from Debian when missing and
allowed, else the tests are skipped, except under CI, where a missing package fails them.

Imported by name (``from system import ...``), as ``testpaths`` is.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest


def apt_install(package: str, opt_out: str, hint: str, log: Path | None = None) -> str:
    """Install Debian's ``package`` when this user may (root with apt-get) and ``$opt_out`` is unset.

    Returns "" on success, otherwise why not; ``hint`` says what to do instead. The apt output goes
    to ``log`` when given (else only its tail into the reason)."""
    if os.environ.get(opt_out):
        return f"{opt_out} is set"
    if not shutil.which("apt-get"):
        return f"this machine has no apt-get ({hint})"
    if os.geteuid() != 0:
        return f"installing Debian's {package} needs root ({hint})"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", package]):
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1200)
        if log is not None:
            with log.open("a") as out:
                out.write(done.stdout + done.stderr)
        if done.returncode != 0:
            where = f"see {log}" if log is not None else done.stderr[-500:]
            return f"'{' '.join(cmd)}' failed (exit {done.returncode}): {where}"
    return ""


def unavailable(reason: str, what: str) -> None:
    """Skip the test, or fail it under CI, which must run ``what``."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} CI must run {what}.")
    pytest.skip(reason)
