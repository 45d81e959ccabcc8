"""A real OpenID Connect provider on loopback for sign-in tests: ``oidc-provider-mock`` (PyPI), run as its own process.

It accepts any client id and secret, and signs in whoever types a subject into its authorisation form; the
claims a user gets (e-mail, name) are set beforehand with :func:`add_user`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from apprunner import free_port, stop, wait_until_serving  # noqa: E402  (tests/browser/apprunner.py)


@dataclass(frozen=True)
class Provider:
    issuer: str
    process: subprocess.Popen

    def add_user(self, email: str, name: str) -> None:
        """Register the claims the provider hands out when ``email`` is typed into its form."""
        req = urllib.request.Request(f"{self.issuer}/users/{quote(email)}", method="PUT",
                                     data=json.dumps({"email": email, "name": name,
                                                      "email_verified": True}).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            if r.status != 204:
                raise RuntimeError(f"the OIDC provider refused user {email}: HTTP {r.status}")

    def stop(self) -> None:
        stop(self.process, seconds=10)


def start_provider(log: Path) -> Provider:
    """Start the provider on a free loopback port and wait until it serves its discovery document."""
    port = free_port()
    out = log.open("w")
    proc = subprocess.Popen([sys.executable, "-m", "oidc_provider_mock", "--host", "127.0.0.1", "--port", str(port)],
                            stdout=out, stderr=subprocess.STDOUT)
    issuer = f"http://127.0.0.1:{port}"
    wait_until_serving(proc, f"{issuer}/.well-known/openid-configuration", "oidc-provider-mock", log)
    return Provider(issuer, proc)


COOKIE_SECRET = "signin-test-cookie-secret-0123456789abcdef"


def auth_secrets(path: Path, *, issuer: str, app_port: int, cookie_secret: str = COOKIE_SECRET,
                 admins: tuple[str, ...] = ()) -> Path:
    """Write a secrets.toml whose ``[auth]`` section signs in through ``issuer`` (Streamlit's st.login), with
    ``admins`` listed in ``[access]``."""
    path.write_text(
        "[access]\n"
        f"admins = {json.dumps(list(admins))}\n"
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{app_port}/oauth2callback"\n'
        f'cookie_secret = "{cookie_secret}"\n'
        'client_id = "laser-dashboard"\n'
        'client_secret = "test-secret"\n'
        f'server_metadata_url = "{issuer}/.well-known/openid-configuration"\n',
        encoding="utf-8")
    return path
