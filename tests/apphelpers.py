"""Helpers the Streamlit AppTest suites share (imported by name, as ``testpaths`` is).

A database holding the bundled sample, made once per test session and copied for each test (the
import takes a while), and what a click on a download button would download.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import streamlit.testing.v1.app_test as app_test_module
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

from analysis.records.store import Store


def app_database(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A copy of a SQLite database holding the bundled sample, in ``tmp_path``, with the app pointed at it
    (LASERDASH_DB_URL); returns its URL. The sample database is made once per session (and xdist worker)."""
    template = tmp_path_factory.getbasetemp() / "apphelpers-sample" / "sample.db"
    if not template.exists():
        template.parent.mkdir(exist_ok=True)
        made = template.with_name("making.db")
        store = Store(f"sqlite:///{made}")
        store.ensure_sample()
        store.engine.dispose()
        made.rename(template)
    path = tmp_path / "app.db"
    shutil.copy(template, path)
    url = f"sqlite:///{path}"
    monkeypatch.setenv("LASERDASH_DB_URL", url)
    return url


def download_button(at: AppTest, key: str):
    found = [b for b in at.get("download_button") if b.key == key]
    assert found, f"no download button {key!r}"
    return found[0]


def record_downloads(monkeypatch: pytest.MonkeyPatch) -> Callable[[AppTest, str], bytes]:
    """``fetch(at, key) -> bytes``: what a click on the download button ``key`` would download.

    The pages pass callables (generated on click); AppTest keeps them in a media-file manager it
    creates for each run, so the managers are recorded to run the callable afterwards.
    """
    managers: list[MediaFileManager] = []

    class RecordingMediaFileManager(MediaFileManager):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            managers.append(self)

    monkeypatch.setattr(app_test_module, "MediaFileManager", RecordingMediaFileManager)

    def fetch(at: AppTest, key: str) -> bytes:
        button = download_button(at, key)
        manager = managers[-1]
        url = manager.execute_deferred(button.proto.deferred_file_id) if button.proto.deferred_file_id \
            else button.proto.url
        file = manager.read_file(url.rsplit("/", 1)[-1].split(".", 1)[0])
        assert file is not None, f"{key}: nothing to download"
        return file.content

    return fetch
