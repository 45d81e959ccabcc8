"""The command line's alerts and mail: ``watch DATASET_ID [--json] [--mail-to ADDRESS ...]`` and
``send-report --to ADDRESS ... TARGET --page PAGE`` (see :mod:`analysis.cli`, which dispatches here).

``watch`` exits 0 when there is no new signal, 3 when there is (after printing, and mailing, them), 1 when it
cannot (the message says why; a signal that could not be mailed is reported again next time).
"""

from __future__ import annotations

import argparse
import json
from datetime import date

from analysis.records import access, versions
from analysis.records.store import Store

# The statistics, mail and PDF modules are imported by the commands that use them: the other commands start
# without them.

#: ``watch``'s exit code when it found new signals (0: none).
NEW_SIGNALS = 3


def add_parsers(commands) -> None:
    """Add ``watch`` and ``send-report`` to the command line's subcommands."""
    base_help = ("the dashboard's address for links (default: $LASERDASH_PUBLIC_URL, else [server] public_url in the "
                 "secrets, else http://localhost:8501)")
    watch = commands.add_parser(
        "watch", help="list the new signals in a dataset since the last run (exit 3 when there are, 0 when not)",
        description="List the special-cause signals of the monthly control charts (per modality, over all clinics "
                    "and per clinic) and the clinics and practitioners above the 99.8 % funnel limit that no "
                    "earlier run reported. Exit status: 0 nothing new, 3 new signals, 1 error, 2 usage.")
    watch.add_argument("dataset_id")
    watch.add_argument("--json", action="store_true", help="print JSON")
    watch.add_argument("--mail-to", action="append", default=[], metavar="ADDRESS",
                       help="also mail the new signals to ADDRESS (repeatable; no mail when nothing is new; "
                            "SMTP settings: see the README)")
    watch.add_argument("--base-url", metavar="URL", help=base_help)
    watch.add_argument("--as", dest="as_user", metavar="EMAIL", help=access.AS_HELP)
    send = commands.add_parser("send-report", help="mail the PDF of a page of the dashboard")
    send.add_argument("target", metavar="TARGET", help="a dataset id or a share link copied from the browser")
    send.add_argument("--to", action="append", required=True, metavar="ADDRESS",
                      help="a recipient (repeatable, or comma-separated)")
    send.add_argument("--page", help="the page to send (as `report --page`), or 'all' (default: the link's page, "
                                     "else the Overview)")
    send.add_argument("--subject", help="the mail's subject (default: 'Laser dashboard report: PAGE, DATE')")
    send.add_argument("--as", dest="as_user", metavar="EMAIL", help=access.AS_HELP)


def run(store: Store, args: argparse.Namespace) -> int:
    """Run ``watch`` or ``send-report``."""
    from analysis.present import mail

    try:
        if args.command == "watch":
            return _watch(store, args)
        return _send_report(store, args)
    except mail.MailError as exc:
        raise ValueError(str(exc)) from None


def _watch(store: Store, args: argparse.Namespace) -> int:
    from analysis.findings.signals import signals
    from analysis.present import alerts, mail
    from analysis.records import watched

    recipients = mail.addresses(args.mail_to) if args.mail_to else []
    config = mail.settings() if recipients else None
    base = alerts.base_url(args.base_url)
    admin = access.Access(store, access.report_identity(args.as_user))
    info = admin.require(args.dataset_id)
    last = versions.records_complete_to_in(admin.history(info.id))
    found = signals(admin.load(info.id), follow_up_until=(last or info.created_at).date())
    known = len(watched.seen(store, info.id))
    new = watched.unseen(store, info.id, found)
    if new and config is not None:
        msg = mail.message(config.sender, recipients, alerts.mail_subject(info, new), alerts.mail_body(info, new, base))
        mail.send(config, msg, recipients)
    if args.json:
        print(json.dumps(alerts.as_json(info, new, known, base), indent=2, ensure_ascii=False))
    else:
        for line in alerts.lines(info, new, known, base):
            print(line)
        if new and recipients:
            print(f"Mailed to {', '.join(recipients)}.")
    watched.remember(store, info.id, new)
    return NEW_SIGNALS if new else 0


def render_pdf(store: Store, target: str, page: str | None, user: access.User = access.COMMAND_LINE) -> bytes:
    """The PDF that ``send-report`` attaches: :func:`analysis.present.pdf.report_pdf`, as ``user`` sees the
    datasets (the command line: an admin). Raises ValueError, with a message fit to print, when it cannot be made."""
    try:
        from analysis.present import pdf
    except ImportError:
        raise ValueError("This installation cannot make PDFs (analysis.present.pdf is missing). Nothing was "
                         "sent.") from None
    try:
        return pdf.report_pdf(store, target, page, user)
    except NotImplementedError:
        raise ValueError("This installation cannot make PDFs yet (analysis.present.pdf is a stub). Nothing was "
                         "sent.") from None
    except (ValueError, pdf.PdfUnavailable) as exc:  # an unknown page, a link to another server, no Chromium ...
        raise ValueError(f"{exc} Nothing was sent.") from None


def _send_report(store: Store, args: argparse.Namespace) -> int:
    from analysis.present import mail

    recipients = mail.addresses(args.to)
    config = mail.settings()
    user = access.report_identity(args.as_user)
    document = render_pdf(store, args.target, args.page, user)  # made before the server is contacted: all or nothing
    today = date.today()
    subject = args.subject or (f"Laser dashboard report: {args.page}, {today:%Y-%m-%d}" if args.page
                               else f"Laser dashboard report, {today:%Y-%m-%d}")
    what = f"the '{args.page}' page" if args.page else "the page"
    body = (f"Attached: {what} of the laser-treatment dashboard as a PDF, made on {today:%Y-%m-%d} from "
            f"{args.target}.\n\nSent by python -m analysis send-report.\n")
    name = f"laser-dashboard-{_slug(args.page or 'report')}-{today:%Y-%m-%d}.pdf"
    msg = mail.message(config.sender, recipients, subject, body, [(name, document, "application/pdf")])
    mail.send(config, msg, recipients)
    print(f"Sent the report ({len(document):,} bytes, {name}) to {', '.join(recipients)}.")
    return 0


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-") or "report"
