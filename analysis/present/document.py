"""A page's report made outside the dashboard: from a dataset id or a share link to HTML.

``python -m analysis report`` and ``send-report`` give a TARGET (a dataset id, or a share link copied from the
browser) and a page; :func:`parse_target` reads the link as the dashboard does (:mod:`analysis.present.urlstate`:
the dataset and its filters), :func:`page_reports` runs the page's builder (:mod:`analysis.present.content`, the
same one the page draws with) on the selection, and :func:`report_html` renders the result.

The dashboard's address: ``$LASERDASH_PUBLIC_URL``, else ``[server] public_url`` in the secrets file. Links to
any other server are refused (without one configured, only links to this machine are accepted). Reports made here
carry a share link on that address.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from datetime import date
from urllib.parse import parse_qs, urlsplit, urlencode

from analysis.findings.quality import quality_summary
from analysis.present import content, urlstate
from analysis.present.glossary import reading, reading_lines
from analysis.present.report import Report, document
from analysis.records import access, versions
from analysis.records.filters import Filters, apply_filters, options, prepare
from analysis.records.store import DatasetInfo, Records, Store, is_valid_dataset_id

PUBLIC_URL_ENV = "LASERDASH_PUBLIC_URL"
#: Where the dashboard runs when no public address is configured (``streamlit run``'s default).
LOCAL_URL = "http://localhost:8501"
_LOOPBACK = {"localhost", "127.0.0.1", "::1"}
ALL = "all"


class TargetError(ValueError):
    """The target or page cannot be reported on; the message says why and what to give instead."""


def public_url() -> str | None:
    """The dashboard's address as configured (``$LASERDASH_PUBLIC_URL``, else ``[server] public_url``), or None."""
    url = os.environ.get(PUBLIC_URL_ENV)
    if not url:
        path = os.environ.get(access.SECRETS_ENV) or str(access.ROOT / ".streamlit" / "secrets.toml")
        try:
            with open(path, "rb") as f:
                url = (tomllib.load(f).get("server") or {}).get("public_url")
        except (OSError, tomllib.TOMLDecodeError):
            url = None
    return str(url).rstrip("/") if url else None


@dataclass(frozen=True)
class Target:
    """What a report shows: the dataset, its filters, the page named by the link (if any) and the link's notices."""

    dataset: DatasetInfo
    filters: Filters
    page: content.PageSpec | None = None
    #: What the link asked for that this dataset does not have (dropped, as the dashboard drops it).
    notes: tuple[str, ...] = ()


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme.lower(), (parts.hostname or "").lower(), port


def _page_path(link: str) -> str:
    """The link's path below the dashboard's address (its page), checking the link points at this dashboard."""
    base = public_url()
    if base is None:
        if _origin(link)[1] not in _LOOPBACK:
            raise TargetError(f"The link points at {urlsplit(link).hostname or 'no server'}, not at this dashboard. "
                              f"Set {PUBLIC_URL_ENV} (or [server] public_url in the secrets) to the dashboard's "
                              "address to accept links to it.")
        return urlsplit(link).path
    base_path = urlsplit(base).path.rstrip("/")
    path = urlsplit(link).path
    if _origin(link) != _origin(base) or not (path == base_path or path.startswith(base_path + "/")):
        raise TargetError(f"The link points at another server ({urlsplit(link).hostname or 'none'}); this dashboard "
                          f"is at {base}. Copy the link from this dashboard's address bar.")
    return path[len(base_path):]


def parse_target(store: Store, target: str, user: access.User = access.COMMAND_LINE) -> tuple[Target, Records]:
    """The dataset and filters ``target`` (a dataset id or a share link) names, and the dataset's records.

    Raises :class:`TargetError` for a link to another server, a link naming no dataset or an unknown page, and
    for a dataset that does not exist, is deleted, or is not visible to ``user`` (one message for all three)."""
    target = target.strip()
    is_link = "://" in target or target.startswith("?")
    page = None
    if is_link:
        if target.startswith("?"):
            target = LOCAL_URL + "/" + target
        elif urlsplit(target).scheme.lower() not in ("http", "https"):
            raise TargetError("A share link starts with http:// or https://; copy it from the browser's address bar.")
        path = _page_path(target)
        page = content.page_spec(path)
        if page is None:
            raise TargetError(f"The link's page '{path.strip('/')}' is not a page of this dashboard; the pages are: "
                              f"{', '.join(s.slug for s in content.PAGES)}.")
        params = parse_qs(urlsplit(target).query)
        ids = params.get(urlstate.PARAM_DATASET) or []
        if not ids:
            raise TargetError("The link names no dataset (it has no ?dataset=…); copy it again from the address bar "
                              "once the dataset is open.")
        dataset_id = ids[-1]
    elif is_valid_dataset_id(target):
        dataset_id, params = target, {}
    else:
        raise TargetError("The target is neither a dataset id (`python -m analysis datasets` lists them) nor a share "
                          "link (http://…?dataset=…).")
    info = access.Access(store, user).get(dataset_id)
    if info is None:
        shown = dataset_id if is_valid_dataset_id(dataset_id) else "(malformed id)"
        why = "" if user.admin and user.email is None else f", or it is not shared with {user.email or 'you'}"
        raise TargetError(f"The dataset {shown} was not found: it does not exist or it was deleted{why}. "
                          "`python -m analysis datasets` lists the datasets.")
    records = prepare(store.load(info.id))
    filters, notes = urlstate.parse_filters(params, urlstate.FilterChoices.from_options(options(records)))
    return Target(info, filters, page, tuple(notes)), records


def share_link(dataset_id: str, filters: Filters, spec: content.PageSpec, base: str | None = None) -> str:
    """The address that opens ``spec``'s page on this view (on ``base``, else the configured or local address)."""
    root = (base or public_url() or LOCAL_URL).rstrip("/")
    query = urlencode(urlstate.to_params(dataset_id, filters), doseq=True)
    return f"{root}/{spec.path}" + (f"?{query}" if query else "")


def pages(page: str | None, target: Target) -> list[content.PageSpec]:
    """The pages asked for: ``page`` (a slug or address path, or "all"), else the link's page, else the Overview."""
    if page is not None and page.strip().lower() == ALL:
        return list(content.PAGES)
    if page is None:
        return [target.page or content.PAGES[0]]
    spec = content.page_spec(page)
    if spec is None:
        raise TargetError(f"There is no page '{page}'. The pages are: {', '.join(s.slug for s in content.PAGES)} "
                          f"(or {ALL} for every page in one document).")
    return [spec]


def build_report(spec: content.PageSpec, info: DatasetInfo, filters: Filters, records: Records, link: str,
                 until: date | None = None) -> Report:
    """``spec``'s page as a report, built by the same builder the dashboard draws the page with; ``until`` is the
    date the side-effect records are complete to (the dataset's latest import; its creation date when not
    given)."""
    until = until or info.created_at.date()
    selection = apply_filters(records, filters)
    report = Report(spec.title, info.name, filters.describe(), len(selection.outcomes), link=link)
    out = content.ReportSink(report)
    if len(selection.outcomes) < spec.minimum:
        out.sentence("No treatments match the filters: widen the selection.")
    else:
        page_input = content.PageInput(selection, filters, until, content.Results(selection),
                                       quality=lambda: quality_summary(records, info.rows_rejected))
        spec.build(out, page_input)
    report.add_reading(reading_lines(reading(spec.slug)))
    return report


def page_reports(store: Store, target: str, page: str | None = None,
                 user: access.User = access.COMMAND_LINE) -> tuple[list[Report], Target]:
    """The reports of ``page`` (or of every page, "all") for ``target``, and the target as read."""
    parsed, records = parse_target(store, target, user)
    base = None
    if "://" in target and public_url() is None:   # a local link: keep its own address in the report
        base = "{0.scheme}://{0.netloc}".format(urlsplit(target.strip()))
    last = versions.records_complete_to_in(access.Access(store, user).history(parsed.dataset.id))
    until = last.date() if last else None
    return [build_report(spec, parsed.dataset, parsed.filters, records,
                         share_link(parsed.dataset.id, parsed.filters, spec, base), until)
            for spec in pages(page, parsed)], parsed


def report_html(store: Store, target: str, page: str | None = None, user: access.User = access.COMMAND_LINE,
                for_print: bool = False) -> str:
    """The HTML report of ``page`` ("all": every page, one document) for ``target``."""
    return document(page_reports(store, target, page, user)[0], for_print=for_print)
