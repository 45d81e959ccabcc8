"""A throwaway PostgreSQL server for the tests: Debian's postgresql, started on a free loopback port.

Used when ``LASERDASH_TEST_PG_URL`` is not given. The binaries are installed from Debian's package
when missing and this user may (root with apt-get); the server runs as the ``postgres`` system user
(initdb refuses root) in a temporary folder and is stopped at the end of the session.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from system import apt_install


@dataclass
class Server:
    url: str          # admin URL (database "postgres")
    data_dir: Path
    bin_dir: Path
    user: str

    def stop(self) -> None:
        _run_as(self.user, [str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "stop"])
        shutil.rmtree(self.data_dir.parent, ignore_errors=True)


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def install() -> str:
    """Install Debian's postgresql when allowed; return why not otherwise (empty string on success)."""
    return apt_install("postgresql", "LASERDASH_NO_PG_INSTALL",
                       "set LASERDASH_TEST_PG_URL to a PostgreSQL database to test against")


def _run_as(user: str, cmd: list[str], **kw) -> subprocess.CompletedProcess:
    if os.geteuid() == 0 and user != "root":
        entry = pwd.getpwnam(user)

        def demote() -> None:
            os.setgid(entry.pw_gid)
            os.setuid(entry.pw_uid)

        kw["preexec_fn"] = demote
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, **kw)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start() -> tuple[Server | None, str]:
    """Start a server; return it, or None and the reason it could not be started."""
    bin_dir = _bin_dir()
    if bin_dir is None:
        why = install()
        bin_dir = _bin_dir()
        if bin_dir is None:
            return None, f"PostgreSQL is not installed and could not be installed: {why or 'unknown reason'}"
    user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
    root = Path(tempfile.mkdtemp(prefix="laserdash-pg-"))
    data_dir = root / "data"
    if os.geteuid() == 0:
        entry = pwd.getpwnam(user)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    os.chmod(root, 0o700)
    done = _run_as(user, [str(bin_dir / "initdb"), "-D", str(data_dir), "-A", "trust", "-U", "postgres",
                          "-E", "UTF8", "--no-instructions"])
    if done.returncode != 0:
        return None, f"initdb failed: {done.stderr[-500:]}"
    port = _free_port()
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off -c max_connections=60"
    done = _run_as(user, [str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-o", options, "-l", str(root / "log"),
                          "-w", "start"])
    if done.returncode != 0:
        return None, f"pg_ctl start failed: {done.stderr[-500:]} {(root / 'log').read_text()[-500:]}"
    url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            time.sleep(0.2)
    return Server(url, data_dir, bin_dir, user), ""
