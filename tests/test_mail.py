"""E-mail through a real SMTP server on loopback (aiosmtpd): plain, login, STARTTLS and SSL with a self-signed
certificate; refusals leave nothing half-sent; ``send-report`` mails the PDF."""

from __future__ import annotations

import subprocess
import sys
import types

import pytest

import smtpserver
from analysis.cli import main
from analysis import cli_alerts
from analysis.present import mail

from testpaths import ROOT

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
PDF_BYTES = b"%PDF-1.7\n% a stand-in for the page's PDF (analysis.present.pdf is tested on its own)\n%%EOF\n"


@pytest.fixture
def smtp_env(monkeypatch, tmp_path):
    """Point the LASERDASH_SMTP_* variables at a server; no secrets file is read."""
    monkeypatch.setenv("LASERDASH_SECRETS", str(tmp_path / "no-secrets.toml"))
    for name in ("HOST", "PORT", "USER", "PASSWORD", "FROM", "SECURITY", "CA_FILE", "TIMEOUT"):
        monkeypatch.delenv(f"LASERDASH_SMTP_{name}", raising=False)
    servers = []

    def use(tls=None, login=False, security=None):
        server = smtpserver.start(tmp_path, tls=tls, login=login)
        servers.append(server)
        for key, value in server.env(security or tls or "none", login).items():
            monkeypatch.setenv(key, value)
        return server

    yield use
    for server in servers:
        server.stop()


def text(message) -> str:
    """The plain-text body as written (the wire's CRLF line ends back to newlines)."""
    return message.get_body(("plain",)).get_content().replace("\r\n", "\n")


def _send(to=("ann@clinic.example",), subject="Subject", body="Body\n", attachments=()):
    config = mail.settings()
    mail.send(config, mail.message(config.sender, list(to), subject, body, attachments), list(to))


def test_plain_mail_reaches_every_recipient(smtp_env):
    server = smtp_env()
    _send(("ann@clinic.example", "bob@clinic.example"), "Monthly figures: Überblick", "Zeile 1\nLine 2 – 46 %\n",
          [("report.pdf", PDF_BYTES, "application/pdf")])
    (got,) = server.received
    assert got.mail_from == smtpserver.USER
    assert got.rcpt_tos == ["ann@clinic.example", "bob@clinic.example"]
    assert got.message["Subject"] == "Monthly figures: Überblick"
    assert got.message["To"] == "ann@clinic.example, bob@clinic.example"
    assert text(got.message) == "Zeile 1\nLine 2 – 46 %\n"
    (part,) = list(got.message.iter_attachments())
    assert part.get_content_type() == "application/pdf" and part.get_filename() == "report.pdf"
    assert part.get_content() == PDF_BYTES


def test_login_then_wrong_password_sends_nothing(smtp_env, monkeypatch):
    server = smtp_env(login=True)
    _send()
    assert len(server.received) == 1
    monkeypatch.setenv("LASERDASH_SMTP_PASSWORD", "wrong")
    with pytest.raises(mail.MailError, match="refused the login of reports@clinic.example") as caught:
        _send()
    assert "wrong" not in str(caught.value) and smtpserver.PASSWORD not in str(caught.value)
    assert len(server.received) == 1


@pytest.mark.parametrize("tls", ["starttls", "ssl"])
def test_tls_with_a_trusted_self_signed_certificate_and_login(smtp_env, tls):
    server = smtp_env(tls=tls, login=True)
    _send(subject=f"over {tls}")
    assert [r.message["Subject"] for r in server.received] == [f"over {tls}"]


def test_an_untrusted_certificate_is_refused(smtp_env, monkeypatch):
    server = smtp_env(tls="starttls")
    monkeypatch.delenv("LASERDASH_SMTP_CA_FILE")
    with pytest.raises(mail.MailError, match="secure connection .* failed .*ca_file. Nothing was sent"):
        _send()
    assert server.received == []


def test_starttls_against_a_server_without_it_says_so(smtp_env):
    server = smtp_env(security="starttls")
    with pytest.raises(mail.MailError, match="does not support STARTTLS"):
        _send()
    assert server.received == []


def test_unreachable_server(smtp_env, monkeypatch):
    smtp_env()
    monkeypatch.setenv("LASERDASH_SMTP_PORT", str(smtpserver.free_port()))
    with pytest.raises(mail.MailError, match="Cannot reach the SMTP server 127.0.0.1:.*Nothing was sent"):
        _send()


def test_a_refused_recipient_stops_the_whole_message(smtp_env):
    server = smtp_env()
    server.handler.refuse.add("gone@clinic.example")
    with pytest.raises(mail.MailError, match=r"refused the recipient\(s\) gone@clinic.example \(550"):
        _send(("ann@clinic.example", "gone@clinic.example"))
    assert server.received == []


@pytest.mark.parametrize("value", ["ann", "ann@", "a b@clinic.example", "ann@clinic", "<ann@clinic.example>",
                                   "änn@clinic.example", "ann@clinic.example\nBcc: x@evil.example"])
def test_addresses_are_checked(value):
    with pytest.raises(ValueError, match="is not an e-mail address"):
        mail.addresses([value])


def test_addresses_may_be_comma_separated_and_are_deduplicated():
    assert mail.addresses(["Ann@Clinic.example, bob@clinic.example", "ann@clinic.example"]) == [
        "ann@clinic.example", "bob@clinic.example"]


def test_settings_from_the_secrets_file_and_environment(monkeypatch, tmp_path):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[smtp]\nhost = "smtp.clinic.example"\nsecurity = "ssl"\nuser = "me@clinic.example"\n'
                       'password = "s3cret"\n')
    monkeypatch.setenv("LASERDASH_SECRETS", str(secrets))
    for name in ("HOST", "PORT", "USER", "PASSWORD", "FROM", "SECURITY", "CA_FILE", "TIMEOUT"):
        monkeypatch.delenv(f"LASERDASH_SMTP_{name}", raising=False)
    config = mail.settings()
    assert (config.host, config.port, config.security, config.sender) == ("smtp.clinic.example", 465, "ssl",
                                                                          "me@clinic.example")
    assert "s3cret" not in repr(config)
    monkeypatch.setenv("LASERDASH_SMTP_SECURITY", "starttls")
    assert mail.settings().port == 587  # the environment wins, and the port follows the security
    monkeypatch.setenv("LASERDASH_SMTP_SECURITY", "tls13")
    with pytest.raises(ValueError, match="'tls13' is not one of starttls, ssl, none"):
        mail.settings()
    secrets.write_text("[access]\n")
    monkeypatch.delenv("LASERDASH_SMTP_SECURITY")
    with pytest.raises(ValueError, match="No SMTP server is configured"):
        mail.settings()


# --- send-report -------------------------------------------------------------------------------------

@pytest.fixture
def dataset(tmp_path):
    db = f"sqlite:///{tmp_path / 'mail.db'}"
    assert main(["--db", db, "import", str(ROOT / "tests" / "corpus" / "bom_utf8.csv"), "--name", "Small"]) == 0
    from analysis.records.store import Store

    return db, Store(db).datasets()[0].id


def test_send_report_mails_the_pdf(smtp_env, dataset, monkeypatch, capsys):
    db, dataset_id = dataset
    server = smtp_env(tls="starttls", login=True)
    asked = []

    def fake_pdf(store, target, page, user):   # (the real PDF is mailed in the test below)
        asked.append((target, page, user.via))
        return PDF_BYTES

    monkeypatch.setattr(cli_alerts, "render_pdf", fake_pdf)
    capsys.readouterr()
    assert main(["--db", db, "send-report", "--to", "board@clinic.example", "--to", "ann@clinic.example",
                 dataset_id, "--page", "trends"]) == 0
    assert asked == [(dataset_id, "trends", "command line")]   # no --as: the command line, an admin
    (got,) = server.received
    assert got.rcpt_tos == ["board@clinic.example", "ann@clinic.example"]
    assert got.message["Subject"].startswith("Laser dashboard report: trends, ")
    assert "the 'trends' page of the laser-treatment dashboard as a PDF" in text(got.message)
    (part,) = list(got.message.iter_attachments())
    assert part.get_content_type() == "application/pdf" and part.get_filename().startswith("laser-dashboard-trends-")
    assert part.get_content() == PDF_BYTES
    assert "Sent the report (" in capsys.readouterr().out


@pytest.fixture
def pdf_module(monkeypatch):
    """analysis.present.pdf (branch pdf), or a stand-in module with its interface where it is not merged yet."""
    try:
        import analysis.present.pdf as module
    except ImportError:
        import analysis.present

        module = types.ModuleType("analysis.present.pdf")
        module.PdfUnavailable = type("PdfUnavailable", (RuntimeError,), {})  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, "analysis.present.pdf", module)
        monkeypatch.setattr(analysis.present, "pdf", module, raising=False)
    return module


@pytest.mark.parametrize("problem", ["There is no page 'nope'. The pages are: overview, trends.",
                                     "The link points at another server (evil.example); this dashboard is at …",
                                     "The dataset dAAAAAAAAAAAAAAAAAAAAAA was not found: it does not exist or it was "
                                     "deleted.",
                                     "PDF needs Chromium, which is not installed on this server."])
def test_send_report_sends_nothing_when_the_pdf_cannot_be_made(smtp_env, dataset, monkeypatch, capsys, problem,
                                                               pdf_module):
    """report_pdf's refusals (analysis.present.document.TargetError, a ValueError; PdfUnavailable) come before
    the mail server is contacted: nothing is sent."""
    db, dataset_id = dataset
    server = smtp_env()

    def refuse(store, target, page=None, user=None):
        raise (pdf_module.PdfUnavailable if "Chromium" in problem else ValueError)(problem)

    monkeypatch.setattr(pdf_module, "report_pdf", refuse, raising=False)
    assert main(["--db", db, "send-report", "--to", "ann@clinic.example", dataset_id, "--page", "nope"]) == 1
    assert f"{problem} Nothing was sent." in capsys.readouterr().err
    assert server.received == []


def test_send_report_with_the_real_pdf_when_it_is_built(smtp_env, dataset):
    """End to end with analysis.present.pdf (branch pdf): skipped without it, while it is a stub, or without
    Chromium."""
    db, dataset_id = dataset
    server = smtp_env()
    pdf = pytest.importorskip("analysis.present.pdf", reason="analysis.present.pdf is on branch pdf")
    try:
        from analysis.records.access import COMMAND_LINE
        from analysis.records.store import Store

        pdf.report_pdf(Store(db), dataset_id, "overview", COMMAND_LINE)
    except (NotImplementedError, pdf.PdfUnavailable) as exc:
        pytest.skip(f"no PDF here: {type(exc).__name__}")
    assert main(["--db", db, "send-report", "--to", "ann@clinic.example", dataset_id, "--page", "overview"]) == 0
    (part,) = list(server.received[0].message.iter_attachments())
    assert part.get_content().startswith(b"%PDF")
    text = subprocess.run(["pdftotext", "-", "-"], input=part.get_content(), capture_output=True).stdout.decode()
    assert "Small" in text  # the dataset's name, on its first page


def test_send_report_refusals_exit_non_zero_without_a_traceback(smtp_env, dataset, monkeypatch, capsys):
    db, dataset_id = dataset
    server = smtp_env(login=True)
    monkeypatch.setattr(cli_alerts, "render_pdf", lambda *args: PDF_BYTES)
    monkeypatch.setenv("LASERDASH_SMTP_PASSWORD", "wrong")
    assert main(["--db", db, "send-report", "--to", "ann@clinic.example", dataset_id]) == 1
    assert "refused the login of reports@clinic.example" in capsys.readouterr().err
    assert main(["--db", db, "send-report", "--to", "ann@clinic.example,", "--to", "bob", dataset_id]) == 1
    assert "'bob' is not an e-mail address" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        main(["--db", db, "send-report", dataset_id])
    assert usage.value.code == 2 and "the following arguments are required: --to" in capsys.readouterr().err
    done = subprocess.run([sys.executable, "-m", "analysis", "--db", db, "send-report", "--to", "not-an-address",
                           dataset_id], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "'not-an-address' is not an e-mail address" in done.stderr
    assert server.received == []
