"""What ``python -m analysis watch`` prints and mails: each new signal's sentence, where it was seen, and the
share link to the Trends page that shows it.

Links start with the dashboard's address: ``--base-url``, else ``$LASERDASH_PUBLIC_URL``, else ``public_url`` in
the ``[server]`` section of the secrets (the address ``python -m analysis report`` checks links against), else
``http://localhost:8501`` (Streamlit's own default). A link
carries only the dataset's id and, for a signal of one clinic, that clinic's name (as the sidebar filter
does): never a patient identifier.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from urllib.parse import urlencode, urlsplit

from analysis.findings.signals import Signal
from analysis.present import urlstate
from analysis.records import access
from analysis.records.store import DatasetInfo

BASE_URL_ENV = "LASERDASH_PUBLIC_URL"
DEFAULT_BASE_URL = "http://localhost:8501"
#: The URL path of the Trends & clinics page (Streamlit's, from pages/6_Trends_and_clinics.py).
TRENDS_PAGE = "Trends_and_clinics"


def base_url(given: str | None = None) -> str:
    """The dashboard's address for links (see the module docstring). Raises ValueError when it is not one."""
    url = (given or os.environ.get(BASE_URL_ENV) or access.configured("server").get("public_url")
           or DEFAULT_BASE_URL)
    url = str(url).strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(f"The dashboard address '{url}' is not an http(s) address such as "
                         "https://dashboard.clinic.example (set it with --base-url, LASERDASH_PUBLIC_URL or "
                         "[server] public_url).")
    return url.rstrip("/")


def link(base: str, dataset_id: str, signal: Signal) -> str:
    """The share link to the Trends page showing ``signal`` (its clinic chosen in the sidebar, if it has one)."""
    query = urlencode(urlstate.to_params(dataset_id, signal.filters), doseq=True)
    return f"{base}/{TRENDS_PAGE}?{query}"


def as_json(info: DatasetInfo, new: Sequence[Signal], known: int, base: str) -> dict:
    """The ``--json`` output: the dataset, the new signals (identity, where, sentence, link), how many known."""
    return {"dataset": info.id, "name": info.name, "new": [
        {**s.identity, "key": s.key, "where": s.where, "sentence": s.sentence, "link": link(base, info.id, s)}
        for s in new], "known_before": known}


def lines(info: DatasetInfo, new: Sequence[Signal], known: int, base: str) -> list[str]:
    """The plain-text report: a heading, then each signal's where, sentence and link."""
    if not new:
        return [f"No new signals in '{info.name}' ({info.id}) since the last run ({known} reported before)."]
    out = [f"{len(new)} new signal(s) in '{info.name}' ({info.id}):"]
    for s in new:
        out.append(f"- [{s.where}] {s.sentence}")
        out.append(f"  {link(base, info.id, s)}")
    return out


def mail_subject(info: DatasetInfo, new: Sequence[Signal]) -> str:
    return f"Laser dashboard: {len(new)} new signal(s) in '{info.name}'"


def mail_body(info: DatasetInfo, new: Sequence[Signal], base: str) -> str:
    return "\n".join([
        f"The laser-treatment dashboard found {len(new)} new signal(s) in the dataset '{info.name}' ({info.id}).",
        "Each is a month outside its control limits, a run of months on one side of the average (or rising or "
        "falling), or a clinic or practitioner above the 99.8 % funnel limit after allowing for case mix.",
        "",
        *lines(info, new, 0, base)[1:],
        "",
        "Sent by python -m analysis watch. It reports each signal once.",
    ]) + "\n"
