"""Sign-in through a real OpenID Connect provider on loopback (oidc-provider-mock), in real Chromium.

With ``[auth]`` in the secrets, the app shows nothing but a sign-in button until the user has signed in at
the provider; after signing out, or with a forged session cookie, it is back to that screen.
"""

from __future__ import annotations

import json
import time

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from apprunner import ARTIFACTS, free_port, start_app, stop  # noqa: E402
from test_browser import wait_idle  # noqa: E402
from oidc import COOKIE_SECRET, auth_secrets, start_provider  # noqa: E402

pytestmark = pytest.mark.browser
TIMEOUT = 60_000


@pytest.fixture(scope="module")
def provider():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    p = start_provider(ARTIFACTS / "oidc-provider.log")
    p.add_user("ann@northgate.example", "Ann Manager")
    p.add_user("bob@southside.example", "Bob Manager")
    p.add_user("it@chain.example", "Chain IT")
    yield p
    p.stop()


@pytest.fixture(scope="module")
def signin_app(tmp_path_factory, provider):
    tmp = tmp_path_factory.mktemp("signin")
    port = free_port()
    secrets = auth_secrets(tmp / "secrets.toml", issuer=provider.issuer, app_port=port, admins=("it@chain.example",))
    proc, base = start_app(f"sqlite:///{tmp / 'app.db'}", ARTIFACTS / "streamlit-signin.log",
                           port=port, secrets=secrets)
    yield base
    stop(proc)


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


def _signed_in_page(browser, base: str, email: str):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    _sign_in(page, base, email)
    page.locator(".st-key-auth_sign_out").wait_for(timeout=TIMEOUT)
    wait_idle(page, "Treatments")
    return ctx, page


def _dataset_options(page) -> list[str]:
    """The names the sidebar's dataset selector offers."""
    page.locator(".st-key-f_dataset button[aria-label=Open]").click()
    options = page.get_by_role("option")
    options.first.wait_for(timeout=TIMEOUT)
    names = [t.strip() for t in options.all_inner_texts()]
    page.keyboard.press("Escape")
    return names


CSV = ("treatment_id,treatment_date,modality,fitzpatrick_type,downtime_days,PIH\n"
       + "".join(f"H{i},2024-03-{i % 27 + 1:02d},{'ablative' if i % 2 else 'non-ablative'},{i % 6 + 1},{i % 9},"
                 f"{'yes' if i % 7 == 0 else 'no'}\n" for i in range(30)))


def test_managers_see_only_what_is_shared_with_them(browser, signin_app, tmp_path):
    managers_journey(browser, signin_app, tmp_path)


def managers_journey(browser, signin_app: str, tmp_path, label: str = "") -> None:
    """Ann imports a dataset; Bob, from another clinic, sees nothing of it (selector, Data page, Ann's link);
    Ann shares it with Bob as a viewer; Bob then sees it but cannot rename or delete it; an admin sees it.
    (The provider must know the three users: see the ``provider`` fixture.)"""
    export = tmp_path / "harbourview-march.csv"
    export.write_text(CSV)
    ann_ctx, ann = _signed_in_page(browser, signin_app, "ann@northgate.example")
    bob_ctx, bob = _signed_in_page(browser, signin_app, "bob@southside.example")
    it_ctx, it = _signed_in_page(browser, signin_app, "it@chain.example")
    try:
        ann.goto(f"{signin_app}/Data")
        wait_idle(ann, "Import records")
        ann.locator(".st-key-upload_files input[type=file]").set_input_files([str(export)])
        wait_idle(ann)
        ann.locator(".st-key-upload_name input").wait_for(timeout=TIMEOUT)
        ann.locator(".st-key-upload_name input").fill("Harbourview")
        ann.locator(".st-key-upload_name input").press("Enter")
        wait_idle(ann)
        ann.locator(".st-key-upload_import button").click()
        wait_idle(ann, "Treatments imported")
        ann.get_by_role("link", name="Overview", exact=True).click()
        wait_idle(ann, "Dataset: Harbourview")
        link = ann.url
        assert "dataset=" in link

        bob.goto(signin_app)
        wait_idle(bob, "Treatments")
        assert "Harbourview" not in _dataset_options(bob)
        bob.goto(f"{signin_app}/Data")
        wait_idle(bob, "Datasets")
        assert "Harbourview" not in bob.inner_text("body")
        bob.goto(link)
        wait_idle(bob, "The dataset in this link was not found")
        assert "Harbourview" not in bob.inner_text("body")
        bob.screenshot(path=str(ARTIFACTS / f"signin{label}-bob-hidden-link.png"))

        ann.goto(f"{signin_app}/Data")
        wait_idle(ann, "Sharing of the dataset being viewed")
        ann.locator(".st-key-data_share_who input").fill("bob@southside.example")
        ann.locator(".st-key-data_share_who input").press("Enter")
        wait_idle(ann)
        ann.locator(".st-key-data_share_go button").click()
        wait_idle(ann, "Shared with bob@southside.example as viewer")

        bob_link = bob_ctx.new_page()      # the link opened afresh, now that it is shared
        bob_link.goto(link)
        wait_idle(bob_link, "Dataset: Harbourview")
        bob_link.get_by_role("link", name="Data: import & datasets").click()
        wait_idle(bob_link, "Datasets")
        assert bob_link.locator(".st-key-data_rename_pick").count() == 0
        assert bob_link.locator(".st-key-data_delete_pick").count() == 0
        assert bob_link.locator(".st-key-data_share_who").count() == 0
        bob_link.screenshot(path=str(ARTIFACTS / f"signin{label}-bob-viewer.png"), full_page=True)

        it.goto(signin_app)
        wait_idle(it, "Treatments")
        assert "Harbourview" in _dataset_options(it)
    finally:
        for ctx in (ann_ctx, bob_ctx, it_ctx):
            ctx.close()
