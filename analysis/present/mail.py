"""E-mail for ``send-report`` and ``watch --mail-to``: the settings, the message and its delivery (smtplib).

The settings come from environment variables, else the ``[smtp]`` section of the secrets
(``$LASERDASH_SECRETS``, default ``.streamlit/secrets.toml``)::

    [smtp]
    host = "smtp.clinic.example"   # LASERDASH_SMTP_HOST (required)
    port = 587                     # LASERDASH_SMTP_PORT (default 587 for starttls, 465 for ssl, 25 for none)
    security = "starttls"          # LASERDASH_SMTP_SECURITY: starttls (default), ssl or none
    user = "reports@clinic.example"  # LASERDASH_SMTP_USER (optional: no login without it)
    password = "..."               # LASERDASH_SMTP_PASSWORD
    from = "reports@clinic.example"  # LASERDASH_SMTP_FROM (default: user)
    ca_file = "/etc/ssl/clinic-ca.pem"  # LASERDASH_SMTP_CA_FILE (optional: a private CA to trust)
    timeout = 30                   # LASERDASH_SMTP_TIMEOUT, seconds

A message goes to all its recipients or to none: every address is checked before anything is sent, and when
the server refuses one recipient the message is abandoned (``RSET``) before its content is sent. Messages and
errors never carry the password, and what is mailed holds no patient identifier (the callers send findings
sentences, share links and the PDF of a page, which never show one).
"""

from __future__ import annotations

import os
import smtplib
import socket
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate, make_msgid

from analysis.records import access

SECURITIES = ("starttls", "ssl", "none")
_DEFAULT_PORT = {"starttls": 587, "ssl": 465, "none": 25}
_ENV = "LASERDASH_SMTP_"


class MailError(RuntimeError):
    """The mail could not be sent (nothing was sent); the message says why and what to check."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    security: str = "starttls"
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    sender: str = ""
    ca_file: str | None = None
    timeout: float = 30.0

    def describe(self) -> str:
        """The server in words, for messages (never the password)."""
        return f"{self.host}:{self.port} ({self.security})"


def settings(environ: Mapping[str, str] | None = None) -> SmtpSettings:
    """The SMTP settings: ``LASERDASH_SMTP_*`` environment variables, else ``[smtp]`` in the secrets.

    Raises ValueError naming what is missing or wrong.
    """
    env = os.environ if environ is None else environ
    section = access.configured("smtp")

    def get(name: str) -> str | None:
        value = env.get(_ENV + name.upper())
        if value is None or value == "":
            value = section.get(name)
        return None if value is None or str(value).strip() == "" else str(value).strip()

    host = get("host")
    if not host:
        raise ValueError("No SMTP server is configured: set LASERDASH_SMTP_HOST (and _PORT, _USER, _PASSWORD, _FROM, "
                         "_SECURITY), or add an [smtp] section with host = ... to the secrets file. See the README, "
                         "'Reports and alerts'.")
    security = (get("security") or "starttls").lower()
    if security not in SECURITIES:
        raise ValueError(f"The SMTP security '{security}' is not one of {', '.join(SECURITIES)}.")
    port_text = get("port") or str(_DEFAULT_PORT[security])
    try:
        port = int(port_text)
        timeout = float(get("timeout") or 30)
    except ValueError:
        raise ValueError(f"The SMTP port '{port_text}' (or timeout) is not a number.") from None
    if not 0 < port < 65536:
        raise ValueError(f"The SMTP port {port} is not a port number (1-65535).")
    user = get("user")
    sender = get("from") or user
    if not sender:
        raise ValueError("No sender address for the mail: set LASERDASH_SMTP_FROM or from = ... in [smtp].")
    return SmtpSettings(host, port, security, user, get("password"), addresses([sender])[0], get("ca_file"), timeout)


def addresses(values: Sequence[str]) -> list[str]:
    """The recipients, checked: each must be a plain e-mail address (name@clinic.example). Raises ValueError."""
    out = []
    for value in values:
        for part in str(value).split(","):
            part = part.strip()
            if not part:
                continue
            try:
                address = access.normalise_email(part)
            except ValueError:
                address = ""
            if not address or not address.isascii():
                raise ValueError(f"'{part}' is not an e-mail address. Write it as name@clinic.example. Nothing was "
                                 "sent.")
            out.append(address)
    if not out:
        raise ValueError("No recipient: give at least one address. Nothing was sent.")
    return list(dict.fromkeys(out))


def message(sender: str, to: Sequence[str], subject: str, body: str,
            attachments: Sequence[tuple[str, bytes, str]] = ()) -> EmailMessage:
    """A plain-text message with attachments given as (file name, content, MIME type)."""
    msg = EmailMessage(policy=SMTP_POLICY)
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    msg.set_content(body, cte="quoted-printable")
    for name, data, mime in attachments:
        maintype, _, subtype = mime.partition("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg


def send(config: SmtpSettings, msg: EmailMessage, to: Sequence[str]) -> None:
    """Deliver ``msg`` to ``to`` through the server: all of them or none. Raises :class:`MailError`."""
    context = ssl.create_default_context(cafile=config.ca_file) if config.security != "none" else None
    where = config.describe()
    try:
        if config.security == "ssl":
            server: smtplib.SMTP = smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout, context=context)
        else:
            server = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
        with server:
            if config.security == "starttls":
                server.starttls(context=context)
            if config.user:
                server.login(config.user, config.password or "")
            _deliver(server, config.sender, list(to), msg)
    except MailError:
        raise
    except smtplib.SMTPAuthenticationError:
        raise MailError(f"The SMTP server {where} refused the login of {config.user}: check the user and password. "
                        "Nothing was sent.") from None
    except smtplib.SMTPNotSupportedError as exc:
        what = "STARTTLS" if config.security == "starttls" and "STARTTLS" in str(exc) else "this request"
        raise MailError(f"The SMTP server {where} does not support {what} ({_reason(exc)}): check the security "
                        "setting (starttls, ssl or none) and the port. Nothing was sent.") from None
    except ssl.SSLError as exc:
        raise MailError(f"The secure connection to the SMTP server {where} failed ({_reason(exc)}): check the security "
                        "setting and port, or trust the server's certificate with ca_file. Nothing was sent.") from None
    except smtplib.SMTPException as exc:
        raise MailError(f"The SMTP server {where} refused the mail ({_reason(exc)}). Nothing was sent.") from None
    except (socket.timeout, TimeoutError):
        raise MailError(f"The SMTP server {where} did not answer within {config.timeout:g} s. Nothing was "
                        "sent.") from None
    except OSError as exc:
        raise MailError(f"Cannot reach the SMTP server {where}: {exc.strerror or _reason(exc)}. Check the host and "
                        "port. Nothing was sent.") from None


def _deliver(server: smtplib.SMTP, sender: str, to: list[str], msg: EmailMessage) -> None:
    """MAIL FROM, every RCPT TO, then DATA only when every recipient was accepted (else RSET)."""
    server.ehlo_or_helo_if_needed()
    code, reply = server.mail(sender)
    if code != 250:
        server.rset()
        raise MailError(f"The SMTP server refused the sender {sender} ({code} {_text(reply)}). Nothing was sent.")
    refused = []
    for address in to:
        code, reply = server.rcpt(address)
        if code not in (250, 251):
            refused.append(f"{address} ({code} {_text(reply)})")
    if refused:
        server.rset()
        raise MailError(f"The SMTP server refused the recipient(s) {', '.join(refused)}. Nothing was sent.")
    code, reply = server.data(msg.as_bytes(policy=SMTP_POLICY))
    if code != 250:
        raise MailError(f"The SMTP server refused the message ({code} {_text(reply)}). Nothing was sent.")


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    return str(exc) or type(exc).__name__
