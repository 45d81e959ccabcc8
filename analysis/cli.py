"""Command line: ``python -m analysis import|datasets|history|problems|rename|delete|report ...`` (for nightly EMR
exports and reports)."""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import date
from pathlib import Path
from typing import Sequence

from analysis.records.filters import Filters
from analysis.records.ingest import ImportOptions, ImportProblem, SourceFile, import_files
from analysis import cli_alerts
from analysis.records import access, bin, rejects, versions
from analysis.records.store import DatasetNotFound, Records, Store, StoreError, describe_url


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m analysis",
                                     description="Import and manage laser-treatment outcome datasets.")
    db_help = "SQLAlchemy database URL (default: $LASERDASH_DB_URL, else data/laserdash.db)"
    parser.add_argument("--db", metavar="URL", help=db_help)
    # --db is also accepted after the command; there it is only set when given, so it never hides the
    # value given before the command.
    after = argparse.ArgumentParser(add_help=False)
    after.add_argument("--db", metavar="URL", default=argparse.SUPPRESS, help=db_help)
    commands = _Commands(parser.add_subparsers(dest="command", required=True), after)

    imp = commands.add_parser("import", help="import outcome and side-effect records (CSV files or workbooks)")
    imp.add_argument("outcomes", type=Path, help="outcome records, one row per treatment (CSV, .xlsx, .xls or .ods; "
                     "a workbook may hold the side effects on another sheet)")
    imp.add_argument("side_effects", type=Path, nargs="*", help="side-effect records, one row per event")
    imp.add_argument("--sheet", action="append", default=[], metavar="NAME",
                     help="read only this sheet of a workbook (repeatable; default: every sheet of records)")
    imp.add_argument("--name", help="name of the new dataset (not with --into)")
    imp.add_argument("--into", metavar="DATASET_ID", help="add the records to this dataset instead of making a new one: "
                     "new treatments are added, changed ones updated; its share links show the newest records")
    imp.add_argument("--replace", action="store_true", help="with --into: replace all the dataset's records")
    imp.add_argument("--clinic", metavar="NAME", help="the clinic of every row whose file gives none (a file without a "
                     "clinic column, or a blank cell)")
    order = imp.add_mutually_exclusive_group()
    order.add_argument("--dayfirst", action="store_true", help="dates are dd/mm/yyyy")
    order.add_argument("--monthfirst", action="store_true", help="dates are mm/dd/yyyy")
    imp.add_argument("--map", action="append", default=[], metavar="HEADER=COLUMN",
                     help="map a header of the outcome file to a schema column (repeatable)")
    imp.add_argument("--owner", metavar="EMAIL", help="with sign-in: who owns the new dataset (default: "
                     "$LASERDASH_DEFAULT_OWNER, else [access] default_owner in .streamlit/secrets.toml; without "
                     "one, only admins see it)")
    imp.add_argument("--share", action="append", default=None, metavar="WHO[:ROLE]",
                     help="with sign-in: share the new dataset with an address, @domain or * (everyone signed in) "
                          "as viewer (default) or editor, e.g. @northgate.example:editor (repeatable; default: "
                          "$LASERDASH_DEFAULT_SHARE, comma-separated, else [access] default_share)")
    imp.add_argument("--allow-duplicate", action="store_true",
                     help="import even if the same file was imported before")
    imp.add_argument("--rejected", type=Path, metavar="DIR",
                     help="write the rejected rows of each file to DIR/<file>.rejected.csv")
    imp.add_argument("--max-problems", type=int, default=50, help="problems to print (default 50)")

    summ = commands.add_parser("summary", help="print a dataset's statistics (or a file's, without storing it)")
    summ.add_argument("dataset_id", nargs="?", help="a stored dataset's id")
    summ.add_argument("--file", nargs="+", type=Path, metavar="CSV",
                      help="summarise OUTCOMES.csv [SIDE_EFFECTS.csv] without storing them")
    summ.add_argument("--json", action="store_true", help="print JSON (default: plain sentences)")
    summ.add_argument("--clinic", action="append", default=[], help="only this clinic (repeatable)")
    summ.add_argument("--device", action="append", default=[], help="only this device (repeatable)")
    summ.add_argument("--area", action="append", default=[], help="only this treatment area (repeatable)")
    summ.add_argument("--from", dest="date_from", type=_date, help="first date, YYYY-MM-DD")
    summ.add_argument("--to", dest="date_to", type=_date, help="last date, YYYY-MM-DD")
    summ.add_argument("--dayfirst", action="store_true", help="with --file: dates are dd/mm/yyyy")
    summ.add_argument("--monthfirst", action="store_true", help="with --file: dates are mm/dd/yyyy")

    cli_alerts.add_parsers(commands)  # watch, send-report

    hist = commands.add_parser("history", help="list every import into a dataset")
    hist.add_argument("dataset_id")
    probs = commands.add_parser("problems", help="write out the rejected rows and problem list kept with an import")
    probs.add_argument("dataset_id")
    probs.add_argument("--version", type=int, metavar="N", help="the import's version (see history; default: the "
                       "newest import that had problems)")
    probs.add_argument("--out", type=Path, metavar="DIR", help="write DIR/<file>.rejected.csv (as the file was: its "
                       "separator, decimal mark and encoding) and DIR/problems-vN.csv instead of printing the problems")
    back = commands.add_parser("rollback", help="undo the most recent import into a dataset")
    back.add_argument("dataset_id")
    listing = commands.add_parser("datasets", help="list datasets")
    listing.add_argument("--deleted", action="store_true", help="list the deleted datasets that can still be restored")
    restore = commands.add_parser("restore", help="bring a deleted dataset back from the bin")
    restore.add_argument("dataset_id")
    trail = commands.add_parser("audit", help="every change to a dataset (or to all datasets), newest first")
    trail.add_argument("dataset_id", nargs="?")
    share = commands.add_parser("share", help="with sign-in: share a dataset (WHO is an address, @domain or *)")
    share.add_argument("dataset_id")
    share.add_argument("who", metavar="WHO[:ROLE]", help="e.g. ann@northgate.example, @northgate.example:editor, *")
    unshare = commands.add_parser("unshare", help="with sign-in: stop sharing a dataset with WHO")
    unshare.add_argument("dataset_id")
    unshare.add_argument("who", metavar="WHO")
    acc = commands.add_parser("access", help="with sign-in: who owns a dataset and who it is shared with")
    acc.add_argument("dataset_id")
    ren = commands.add_parser("rename", help="rename a dataset")
    ren.add_argument("dataset_id")
    ren.add_argument("name")
    dele = commands.add_parser("delete", help="move a dataset to the bin (restorable for $LASERDASH_BIN_DAYS days, "
                                              "default 30; then purged)")
    dele.add_argument("dataset_id")
    rep = commands.add_parser("report", help="write a page of the dashboard (or every page) as a PDF or HTML report")
    rep.add_argument("target", metavar="TARGET", help="a dataset id, or a share link copied from the browser's address "
                     "bar (the report then has the link's dataset and filters)")
    rep.add_argument("--page", metavar="PAGE", help="the page: overview, downtime, results, skin-tone, side-effects, "
                     "trends, article-check, data, or all (every page in one document); default: the link's page, "
                     "else overview")
    rep.add_argument("--out", type=Path, required=True, metavar="FILE", help="FILE.pdf (needs Chromium) or FILE.html")
    rep.add_argument("--as", dest="as_user", metavar="EMAIL", help=access.AS_HELP)
    return parser


class _Commands:
    """The subcommands, each taking the options every command shares (``parents``)."""

    def __init__(self, subparsers: argparse._SubParsersAction, *parents: argparse.ArgumentParser) -> None:
        self._subparsers = subparsers
        self._parents = list(parents)

    def add_parser(self, name: str, **kwargs) -> argparse.ArgumentParser:
        return self._subparsers.add_parser(name, parents=self._parents, **kwargs)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code (0 success, 1 refused, 2 usage; watch: 3 new signals)."""
    args = _parser().parse_args(argv)
    if args.command == "report":
        return _report(args)
    try:
        store = None if getattr(args, "file", None) else Store(args.db)
        if args.command == "import":
            return _import(store, args)
        if args.command == "summary":
            return _summary(store, args)
        if args.command in ("watch", "send-report"):
            return cli_alerts.run(store, args)
        if args.command in ("datasets", "restore", "delete", "audit"):
            bin.purge_expired(store)
        if args.command == "datasets":
            return _deleted(store) if args.deleted else _datasets(store)
        if args.command == "restore":
            try:
                info = access.Access(store, access.COMMAND_LINE).restore(args.dataset_id)
            except DatasetNotFound:
                raise ValueError(f"{args.dataset_id} is not in the bin: it was never deleted, or it has been "
                                 "purged. `python -m analysis datasets --deleted` lists what can be restored.") from None
            print(f"Restored '{info.name}' ({info.id}); its share links work again.")
            return 0
        if args.command == "audit":
            admin = access.Access(store, access.COMMAND_LINE)
            for entry in admin.audit_trail(args.dataset_id):
                print(entry.sentence())
            return 0
        if args.command == "history":
            return _history(store, args.dataset_id)
        if args.command == "problems":
            return _problems(store, args)
        if args.command == "rollback":
            print(access.Access(store, access.COMMAND_LINE).rollback(args.dataset_id).sentence())
            return 0
        if args.command == "rename":
            info = access.Access(store, access.COMMAND_LINE).rename(args.dataset_id, args.name)
            print(f"Renamed {info.id} to '{info.name}'.")
            return 0
        if args.command in ("share", "unshare", "access"):
            return _access(store, args)
        if args.command == "delete":
            access.Access(store, access.COMMAND_LINE).delete(args.dataset_id)
            days = bin.bin_days()
            print(f"Deleted {args.dataset_id}." + (f" It can be restored for {days:g} days: python -m analysis restore "
                                                   f"{args.dataset_id}" if days > 0 else " It was purged at once."))
            return 0
    except (ImportProblem, StoreError, DatasetNotFound, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: cannot read {exc.filename}: {exc.strerror}.", file=sys.stderr)
        return 1
    return 2  # pragma: no cover - argparse requires a command


def _import(store: Store | None, args: argparse.Namespace) -> int:
    mapping = {}
    for item in args.map:
        header, sep, column = item.partition("=")
        if not sep:
            raise ValueError(f"--map takes HEADER=COLUMN, got '{item}'.")
        mapping[header] = column
    if (args.name is None) == (args.into is None):
        raise ValueError("Give either --name (a new dataset) or --into DATASET_ID (add to a dataset).")
    if args.replace and not args.into:
        raise ValueError("--replace goes with --into DATASET_ID: it replaces that dataset's records.")
    order = "dayfirst" if args.dayfirst else "monthfirst" if args.monthfirst else "auto"
    options = ImportOptions(date_order=order, outcome_columns=mapping, sheets=tuple(args.sheet), clinic=args.clinic)
    admin = access.Access(store, access.COMMAND_LINE)
    if args.into and admin.get(args.into) is None:
        raise DatasetNotFound(args.into)
    result = import_files(SourceFile.from_path(args.outcomes),
                          [SourceFile.from_path(p) for p in args.side_effects], options)
    if args.into:
        change = admin.add_records(args.into, result, replace=args.replace)
        info = admin.get(args.into)
        print(info.id)
        print(change.sentence())
        if change.skipped:
            return 0
    else:
        owner, shares = access.cli_defaults(args.owner, args.share)
        info = admin.import_dataset(
            result, args.name, owner=owner, shares=shares, allow_duplicate=args.allow_duplicate)
        print(info.id)
    for line in result.report.summary_lines(args.max_problems):
        print(line)
    if args.rejected:
        args.rejected.mkdir(parents=True, exist_ok=True)
        from analysis.present.export import in_dialect

        summaries = {f.file: f for f in result.report.files}
        for file, rows in result.report.rejected_rows.items():
            if len(rows):
                target = args.rejected / f"{_file_stem(file)}.rejected.csv"
                summary = summaries.get(file)
                target.write_bytes(in_dialect(rows, summary.delimiter if summary else ",",
                                              summary.encoding if summary else ""))
                print(f"Rejected rows of {file} written to {target}.")
    print(f"Stored as dataset '{info.name}' ({info.id}) in {describe_url(store.url)}.")
    return 0


def _access(store: Store, args: argparse.Namespace) -> int:
    admin = access.Access(store, access.COMMAND_LINE)
    if args.command == "share":
        grant = access.parse_share(args.who)
        admin.share(args.dataset_id, grant.grantee, grant.role)
        print(f"Shared {args.dataset_id} with {grant.who} as {grant.role}.")
    elif args.command == "unshare":
        admin.unshare(args.dataset_id, args.who)
        print(f"{args.dataset_id} is no longer shared with {access.Grant(access.normalise_grantee(args.who), 'viewer').who}.")
    else:
        grants = admin.grants(args.dataset_id)
        if not any(g.role == "owner" for g in grants):
            print("owner: none (only admins see it once sign-in is configured)")
        for g in grants:
            print(f"{g.role}: {g.who}")
    return 0


def _report(args: argparse.Namespace) -> int:
    """``report TARGET --page PAGE --out FILE``: 2 for a bad target, page or file name, 1 when it cannot be made."""
    from analysis.present import document, pdf

    suffix = args.out.suffix.lower()
    if suffix not in (".pdf", ".html", ".htm"):
        print(f"error: --out must end in .pdf or .html, got '{args.out.name}'.", file=sys.stderr)
        return 2
    try:
        user = access.report_identity(args.as_user)
        store = Store(args.db)
        reports, target = document.page_reports(store, args.target, args.page, user)
        for note in target.notes:
            print(f"note: {note}", file=sys.stderr)
        if suffix == ".pdf":
            data = pdf.reports_pdf(reports)
        else:
            data = document.document(reports).encode("utf-8")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_bytes(data)
    except document.TargetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (pdf.PdfUnavailable, StoreError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: cannot write {exc.filename or args.out}: {exc.strerror}.", file=sys.stderr)
        return 1
    pages = ", ".join(r.title for r in reports)
    print(f"Wrote {args.out} ({pages}; dataset '{target.dataset.name}', {target.filters.describe()}).")
    return 0


def _history(store: Store, dataset_id: str) -> int:
    kept: dict[int, list[rejects.FileProblems]] = {}
    for k in rejects.kept(store, dataset_id):
        kept.setdefault(k.version, []).append(k)
    for v in versions.history(store, dataset_id):
        counts = ", ".join(f"{n} {k}" for k, n in v.counts.items())
        if v.version in kept:
            counts += (f"; problems kept: {sum(k.rejected_kept for k in kept[v.version])} rejected row(s), "
                       f"{sum(k.problems_kept for k in kept[v.version])} problem(s)")
        files = ", ".join(f"{f['file']} (SHA-256 {f['sha256'][:12]}…)" for f in v.files) or "-"
        who = f" by {v.user}" if v.user else ""
        undone = " [rolled back]" if v.rolled_back else ""
        print(f"version {v.version}: {v.action}{undone}, {v.created_at:%Y-%m-%d %H:%M} UTC{who}; files: {files}; "
              f"{counts or 'no counts'}; then {v.treatments} treatment(s), {v.side_effects} side-effect record(s)")
    return 0


def _problems(store: Store, args: argparse.Namespace) -> int:
    """The rejected rows and problems kept with one import into a dataset: printed, or written to files."""
    from analysis.present.export import in_dialect, safe_csv
    from analysis.records.problems import clip

    info = store.get(args.dataset_id)
    if info is None:
        raise DatasetNotFound(args.dataset_id)
    kept = rejects.kept(store, info.id)
    version = args.version if args.version is not None else (kept[0].version if kept else None)
    files = [k for k in kept if k.version == version]
    if not files:
        if args.version is None:
            print(f"No import into '{info.name}' had rejected rows or problems.")
        else:
            print(f"Version {version} of '{info.name}' has no rejected rows or problems kept (see its history).")
        return 0
    print(f"Version {version} of '{info.name}':")
    for k in files:
        print(f"{k.file}: {k.rows_rejected} row(s) rejected, {k.problems} problem(s).")
        if k.note():
            print(k.note())
    problems = rejects.problem_list(store, info.id, version)
    if args.out is None:
        for p in problems.itertuples(index=False):
            print(f"{p.file} row {p.row}, column '{p.column}', value '{clip(p.value)}': {p.reason} ({p.severity})")
        print("Write them to files with --out DIR.")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    for k in files:
        rows = rejects.rejected_rows(store, info.id, version, k.position)
        if len(rows):
            target = args.out / f"{_file_stem(k.file)}.rejected.csv"
            target.write_bytes(in_dialect(rows, k.delimiter, k.encoding))
            print(f"Rejected rows of {k.file} written to {target}.")
    target = args.out / f"problems-v{version}.csv"
    target.write_bytes(safe_csv(problems))
    print(f"Problem list written to {target}.")
    return 0


def _file_stem(file: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", Path(file).stem).strip("._") or "file"


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date; write it as YYYY-MM-DD") from None


def _summary(store: Store | None, args: argparse.Namespace) -> int:
    from analysis.records.filters import apply_filters
    from analysis.findings import effects
    from analysis.findings.summary import summarise

    if args.file:
        order = "dayfirst" if args.dayfirst else "monthfirst" if args.monthfirst else "auto"
        result = import_files(SourceFile.from_path(args.file[0]), [SourceFile.from_path(p) for p in args.file[1:]],
                              ImportOptions(date_order=order))
        records = Records(result.outcomes, result.side_effects, result.side_effects_recorded)
        # a file on disk is complete to the latest date its records show (not today), taken before any filter
        follow_up_until = effects.latest_date(records)
        for line in result.report.summary_lines(5):
            print(line, file=sys.stderr)
    elif args.dataset_id and store is not None:
        records = store.load(args.dataset_id)
        follow_up_until = versions.records_complete_to(store, args.dataset_id).date()
    else:
        raise ValueError("summary needs a DATASET_ID or --file OUTCOMES.csv [SIDE_EFFECTS.csv].")
    filters = Filters(date_from=args.date_from, date_to=args.date_to, clinics=tuple(args.clinic),
                      devices=tuple(args.device), areas=tuple(args.area))
    _check_values(records, filters)
    records = apply_filters(records, filters)
    if records.outcomes.empty:
        raise ValueError(f"No treatments match the selection ({filters.describe()}).")
    summary = summarise(records, follow_up_until)
    if args.json:
        print(json.dumps(summary, indent=2, allow_nan=False, default=_json_default))
        return 0
    print(f"{summary['treatments']:,} treatments ({filters.describe()}).")
    for sentence in summary["findings"]:
        print(f"- {sentence}")
    print("The article's claims:")
    for claim in summary["claims"]:
        print(f"- {claim['claim']} {claim['verdict'].upper()}: {claim['evidence']}")
        if claim["more_needed"]:
            print(f"  {claim['more_needed']}")
    return 0


def _check_values(records: Records, filters: Filters) -> None:
    """Name the values that exist when a filter asks for one that does not."""
    from analysis.records.filters import options

    known = options(records)
    for label, asked, available in (("clinic", filters.clinics, known["clinics"]),
                                    ("device", filters.devices, known["devices"]),
                                    ("area", filters.areas, known["areas"])):
        missing = [v for v in asked if v not in available]
        if missing:
            raise ValueError(f"No {label} called {', '.join(repr(m) for m in missing)} in these records. "
                             f"The {label}s are: {', '.join(repr(a) for a in available)}.")


def _json_default(value: object) -> object:
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _deleted(store: Store) -> int:
    rows = bin.deleted(store)
    if not rows:
        print("The bin is empty: no deleted dataset can be restored.")
        return 0
    for d in rows:
        by = f" by {d.deleted_by}" if d.deleted_by else ""
        print(f"{d.info.id}  '{d.info.name}', {d.info.treatments:,} treatments; deleted {d.deleted_at:%Y-%m-%d %H:%M} "
              f"UTC{by}; purged after {d.purge_after:%Y-%m-%d %H:%M} UTC")
    return 0


def _datasets(store: Store) -> int:
    rows = store.datasets()
    if not rows:
        print("No datasets yet. Import one with: python -m analysis import OUTCOMES.csv --name NAME")
        return 0
    print(f"{'id':<24}{'treatments':>11}{'side effects':>14}  {'created (UTC)':<17}  name")
    for d in rows:
        print(f"{d.id:<24}{d.treatments:>11}{d.side_effects:>14}  {d.created_at:%Y-%m-%d %H:%M}  {d.name}")
    return 0
