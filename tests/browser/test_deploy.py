"""Several app servers on one PostgreSQL, behind deploy/nginx.conf: a dataset uploaded on one server
opens through a share link on the other, directly and through the proxy."""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from apprunner import ARTIFACTS, ROOT, start_app, wait_until_serving
from system import apt_install, unavailable
from test_browser import (Console, first_finding, metric, pick, selected_tags, upload_through_the_data_page,
                          wait_idle, write_upload)

pytestmark = pytest.mark.browser


def _nginx() -> str | None:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)


@pytest.fixture(scope="module")
def nginx_path() -> str:
    path = _nginx()
    if path is None:
        why = apt_install("nginx-light", "LASERDASH_NO_NGINX_INSTALL", "install Debian's nginx-light")
        path = _nginx()
        if path is None:
            unavailable(f"nginx is not installed and could not be installed: {why or 'unknown reason'}.",
                        "the deployment test")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def servers(tmp_path_factory, request):
    """Two dashboard servers on one fresh PostgreSQL database."""
    url = request.getfixturevalue("pg_module_url")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    started = [start_app(url, ARTIFACTS / f"streamlit-{i}.log") for i in (1, 2)]
    yield [base for _, base in started]
    for proc, _ in started:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture(scope="module")
def pg_module_url(pg_admin_url):
    import uuid

    import sqlalchemy as sa

    name = f"deploy_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield sa.engine.make_url(pg_admin_url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="module")
def proxy(nginx_path, servers, tmp_path_factory) -> str:
    """deploy/nginx.conf, with the test servers' ports, in front of both servers."""
    proc, base = start_nginx(nginx_path, [urlparse(b).port for b in servers], tmp_path_factory.mktemp("nginx"),
                             _free_port())
    yield base
    proc.terminate()
    proc.wait(timeout=20)


def start_nginx(nginx_path: str, ports: list[int], folder: Path, port: int) -> tuple[subprocess.Popen, str]:
    """Run deploy/nginx.conf on loopback ``port`` in front of the app servers on ``ports`` (two)."""
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    conf = (conf.replace("127.0.0.1:8501", f"127.0.0.1:{ports[0]}").replace("127.0.0.1:8502", f"127.0.0.1:{ports[1]}")
            .replace("listen 8080;", f"listen 127.0.0.1:{port};")
            .replace("pid /tmp/laserdash-nginx.pid;", f"pid {folder / 'nginx.pid'};"))
    for temp in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (folder / temp).mkdir()
    conf = conf.replace("http {\n", "http {\n" + "".join(
        f"    {t}_temp_path {folder / t};\n" for t in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")), 1)
    (folder / "nginx.conf").write_text(conf)
    log = (ARTIFACTS / f"nginx-{port}.log").open("w")
    proc = subprocess.Popen([nginx_path, "-c", str(folder / "nginx.conf"), "-p", str(folder)], stdout=log,
                            stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    wait_until_serving(proc, f"{base}/_stcore/health", "nginx", Path(log.name))
    return proc, base


def _on(base: str, link: str) -> str:
    parts = urlparse(link)
    return f"{base}{parts.path}?{parts.query}"


def test_dataset_uploaded_on_one_server_opens_on_the_other_and_through_the_proxy(browser, servers, proxy, tmp_path):
    outcomes, side_effects = write_upload(tmp_path)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    upload_through_the_data_page(page, servers[0], [outcomes, side_effects])
    assert metric(page, "Treatments imported") == "400"
    page.get_by_role("link", name="Skin tone & hyperpigmentation", exact=True).click()
    wait_idle(page, "Hyperpigmentation by Fitzpatrick skin type")
    pick(page, "f_fitz", "II")
    wait_idle(page, "Hyperpigmentation by Fitzpatrick skin type")
    link, finding = page.url, first_finding(page)
    context.close()

    for base, label in ((servers[1], "second server"), (proxy, "nginx")):
        fresh = browser.new_context(viewport={"width": 1400, "height": 1000})
        other = fresh.new_page()
        console = Console(other)
        other.goto(_on(base, link))
        wait_idle(other, "Hyperpigmentation by Fitzpatrick skin type")
        assert selected_tags(other, "f_fitz", expect_last="II") == ["II"], label
        assert parse_qs(urlparse(other.url).query)["dataset"] == parse_qs(urlparse(link).query)["dataset"], label
        assert other.get_by_text("clinic_export").count() > 0, label
        assert first_finding(other) == finding, label
        other.screenshot(path=str(ARTIFACTS / f"deploy-{label.replace(' ', '-')}.png"), full_page=True)
        assert console.unexpected() == [], label
        fresh.close()
