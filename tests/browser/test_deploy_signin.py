"""The sign-in journey of tests/browser/test_signin.py through the production set-up: two app servers on one
PostgreSQL database behind deploy/nginx.conf, signing in at a real OpenID Connect provider on loopback."""

from __future__ import annotations

import pytest

from apprunner import ARTIFACTS, free_port, start_app, stop  # noqa: E402
from oidc import auth_secrets  # noqa: E402
from test_deploy import nginx_path, pg_module_url, start_nginx  # noqa: E402,F401  (fixtures)
from test_signin import managers_journey, provider  # noqa: E402,F401  (fixture)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def signed_in_proxy(nginx_path, pg_module_url, provider, tmp_path_factory):  # noqa: F811
    folder = tmp_path_factory.mktemp("deploy-signin")
    proxy_port = free_port()
    # The provider sends the browser back to the proxy's address, whichever server started the sign-in.
    secrets = auth_secrets(folder / "secrets.toml", issuer=provider.issuer, app_port=proxy_port,
                           admins=("it@chain.example",))
    servers = [start_app(pg_module_url, ARTIFACTS / f"streamlit-signin-{i}.log", secrets=secrets) for i in (1, 2)]
    (folder / "nginx").mkdir()
    proxy, base = start_nginx(nginx_path, [int(b.rsplit(":", 1)[1]) for _, b in servers], folder / "nginx",
                              proxy_port)
    yield base
    for proc in (proxy, *(p for p, _ in servers)):
        stop(proc)


def test_managers_see_only_what_is_shared_with_them_behind_nginx(browser, signed_in_proxy, tmp_path):
    managers_journey(browser, signed_in_proxy, tmp_path, label="-nginx")
