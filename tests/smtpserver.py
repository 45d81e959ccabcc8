"""A real SMTP server on loopback for the mail tests: aiosmtpd (pinned in requirements-dev.txt) on a free port,
keeping what it received; optionally with a login, STARTTLS or implicit TLS (a self-signed certificate made in
the test with ``cryptography``)."""

from __future__ import annotations

import datetime
import email
import email.policy
import ipaddress
import socket
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USER = "reports@clinic.example"
PASSWORD = "correct horse battery staple"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class Handler:
    """Keeps every message; refuses the recipients listed in ``refuse`` (550)."""

    received: list[Received] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), msg))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


def authenticator(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = (isinstance(auth_data, LoginPassword) and auth_data.login == USER.encode()
          and auth_data.password == PASSWORD.encode())
    return AuthResult(success=ok, handled=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost: (certificate, key) PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@dataclass
class Server:
    port: int
    handler: Handler
    controller: Controller
    cert: Path | None = None

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def env(self, security: str = "none", login: bool = False) -> dict[str, str]:
        """The LASERDASH_SMTP_* variables that point at this server."""
        out = {"LASERDASH_SMTP_HOST": "127.0.0.1", "LASERDASH_SMTP_PORT": str(self.port),
               "LASERDASH_SMTP_SECURITY": security, "LASERDASH_SMTP_FROM": USER, "LASERDASH_SMTP_TIMEOUT": "10"}
        if login:
            out |= {"LASERDASH_SMTP_USER": USER, "LASERDASH_SMTP_PASSWORD": PASSWORD}
        if self.cert is not None:
            out["LASERDASH_SMTP_CA_FILE"] = str(self.cert)
        return out

    def stop(self) -> None:
        self.controller.stop()


def start(tmp_path: Path, *, tls: str | None = None, login: bool = False) -> Server:
    """Start a server; ``tls``: None (plain), "starttls" (required) or "ssl" (implicit TLS)."""
    handler = Handler()
    port = free_port()
    kwargs: dict = {}
    cert = None
    if tls:
        cert, key = self_signed(tmp_path)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        if tls == "starttls":
            kwargs |= {"tls_context": context, "require_starttls": True}
        else:
            kwargs |= {"ssl_context": context, "server_hostname": "127.0.0.1"}
    if login:
        # aiosmtpd cannot tell that an implicit-TLS connection is encrypted: it would refuse AUTH there
        kwargs |= {"authenticator": authenticator, "auth_required": True, "auth_require_tls": tls == "starttls"}
    controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=10, **kwargs)
    controller.start()
    return Server(port, handler, controller, cert)
