"""Sign-in through a real OpenID Connect provider on loopback (oidc-provider-mock), in real Chromium.

With ``[auth]`` in the secrets, the app shows nothing but a sign-in button until the user has signed in at
the provider; after signing out, or with a forged session cookie, it is back to that screen.
"""

from __future__ import annotations

import json
import subprocess
import time

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from apprunner import ARTIFACTS, free_port, start_app  # noqa: E402
from oidc import COOKIE_SECRET, auth_secrets, start_provider  # noqa: E402

pytestmark = pytest.mark.browser
TIMEOUT = 60_000


@pytest.fixture(scope="module")
def provider():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    p = start_provider(ARTIFACTS / "oidc-provider.log")
    p.add_user("ann@northgate.example", "Ann Manager")
    yield p
    p.stop()


@pytest.fixture(scope="module")
def signin_app(tmp_path_factory, provider):
    tmp = tmp_path_factory.mktemp("signin")
    port = free_port()
    secrets = auth_secrets(tmp / "secrets.toml", issuer=provider.issuer, app_port=port)
    proc, base = start_app(f"sqlite:///{tmp / 'app.db'}", ARTIFACTS / "streamlit-signin.log",
                           port=port, secrets=secrets)
    yield base
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def _sign_in(page, base: str, email: str) -> None:
    page.goto(base)
    page.locator(".st-key-auth_sign_in button").click(timeout=TIMEOUT)
    page.get_by_placeholder("sub").fill(email, timeout=TIMEOUT)     # the provider's own form
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(f"{base}/**", timeout=TIMEOUT)


def test_sign_in_shows_the_app_and_sign_out_hides_it(browser, signin_app):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    try:
        page.goto(signin_app)
        page.locator(".st-key-auth_sign_in").wait_for(timeout=TIMEOUT)
        assert "Treatments" not in page.inner_text("body")         # nothing of the data before sign-in
        _sign_in(page, signin_app, "ann@northgate.example")
        page.locator(".st-key-auth_sign_out").wait_for(timeout=TIMEOUT)
        page.get_by_text("Signed in as ann@northgate.example").wait_for(timeout=TIMEOUT)
        page.get_by_text("Treatments").first.wait_for(timeout=TIMEOUT)
        page.screenshot(path=str(ARTIFACTS / "signin-signed-in.png"))
        page.locator(".st-key-auth_sign_out button").click()
        # Streamlit ends the session at the provider too (RP-initiated logout); the provider asks to confirm.
        page.get_by_role("button", name="End session").click(timeout=TIMEOUT)
        page.locator(".st-key-auth_sign_in").wait_for(timeout=TIMEOUT)
        page.goto(signin_app)                                      # a reload does not bring the session back
        page.locator(".st-key-auth_sign_in").wait_for(timeout=TIMEOUT)
        assert page.locator(".st-key-auth_sign_out").count() == 0
    finally:
        ctx.close()


def _user_cookie(base: str, *, secret: str, age_days: float = 0) -> str:
    """A ``_streamlit_user`` cookie as Streamlit signs it (itsdangerous, salted with the cookie name), ``age_days`` old."""
    class Signer(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time() - age_days * 86400)

    payload = json.dumps({"origin": base, "is_logged_in": True, "email": "ann@northgate.example",
                          "name": "Ann Manager"})
    return URLSafeTimedSerializer(secret, salt="_streamlit_user", signer=Signer).dumps(payload)


def _opens_signed_in(browser, base: str, cookie: str) -> bool:
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    ctx.add_cookies([{"name": "_streamlit_user", "value": cookie, "url": base}])
    page = ctx.new_page()
    try:
        page.goto(base)
        page.locator(".st-key-auth_sign_in, .st-key-auth_sign_out").first.wait_for(timeout=TIMEOUT)
        signed_in = page.locator(".st-key-auth_sign_out").count() > 0
        if not signed_in:
            assert "Treatments" not in page.inner_text("body")
        return signed_in
    finally:
        ctx.close()


def test_a_valid_cookie_made_here_signs_in(browser, signin_app):
    """The control for the two tests below: a cookie made the same way, fresh and with the right secret, works."""
    assert _opens_signed_in(browser, signin_app, _user_cookie(signin_app, secret=COOKIE_SECRET))


@pytest.mark.parametrize("cookie", [
    pytest.param(lambda base: "forged", id="garbage"),
    pytest.param(lambda base: _user_cookie(base, secret="not-the-server-secret-" * 2), id="wrong-secret"),
    pytest.param(lambda base: _user_cookie(base, secret=COOKIE_SECRET, age_days=40), id="expired"),
])
def test_a_forged_or_expired_cookie_gets_the_sign_in_screen(browser, signin_app, cookie):
    assert not _opens_signed_in(browser, signin_app, cookie(signin_app))
