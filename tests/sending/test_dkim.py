"""DKIM (R-DLV-2): every message is signed with the operator's key and the sender domain's keys; what a real
SMTP server on loopback receives verifies with dkimpy's verifier against the published record, and any
change on the way breaks it. The private key never shows in a repr, a log or an error."""

import io
import logging
import stat

import dkim
import pytest
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command

from backend.mailings import signing
from backend.mailings.compose import DkimKey, PreparedMessage, Sender
from backend.mailings.models import DeliveryAttempt
from backend.mailings.sending.transport import DjangoBackendConnection, SMTPConnection
from tests.factories import MessageFactory, UserFactory

pytestmark = pytest.mark.django_db
Outcome = DeliveryAttempt.Outcome


class FakeDNS:
    """dkimpy's `dnsfunc`: the TXT records published, by name."""

    def __init__(self):
        self.records: dict[bytes, bytes] = {}

    def publish(self, key: signing.SigningKey) -> None:
        self.records[f"{signing.record_name(key)}.".encode()] = signing.public_record(key).encode()

    def __call__(self, name, timeout=5):
        return self.records.get(name)


@pytest.fixture
def dns():
    return FakeDNS()


@pytest.fixture
def operator(settings, tmp_path, dns):
    """Sets the operator's key from a file `dkim_keygen`-style; returns a function taking the algorithm."""

    def use(algorithm: str, domain: str = "mailer.example.net") -> signing.SigningKey:
        path = tmp_path / f"operator-{algorithm}.pem"
        path.write_bytes(signing.generate_pem(algorithm))
        settings.DKIM_DOMAIN, settings.DKIM_SELECTOR, settings.DKIM_PRIVATE_KEY_FILE = domain, "m1", str(path)
        signing.operator_key.cache_clear()
        key = signing.operator_key()
        dns.publish(key)
        return key

    yield use
    settings.DKIM_PRIVATE_KEY_FILE = ""
    signing.operator_key.cache_clear()


def owner_key(algorithm: str, dns: FakeDNS, domain: str = "shop.example.com") -> DkimKey:
    pem = signing.generate_pem(algorithm)
    dns.publish(signing.load_private_key(pem, domain=domain, selector="s2026", source="test"))
    return DkimKey(domain=domain, selector="s2026", private_key=pem)


def send_over_smtp(smtp, prepared, email="anna@example.org", full_name="Anna Reader", **kwargs):
    connection = SMTPConnection()
    try:
        result = connection.send(prepared, email=email, full_name=full_name, token="tok", **kwargs)
    finally:
        connection.close()
    assert result.outcome == Outcome.SENT, result
    return smtp.received[-1].data


def verifies(data: bytes, idx: int, dns: FakeDNS) -> bool:
    """The idx-th signature (0: topmost) verifies; dkimpy's verify() checks only the topmost."""
    try:
        return dkim.DKIM(data).verify(idx=idx, dnsfunc=dns)
    except dkim.DKIMException:
        return False


def signature_domains(data: bytes) -> list[str]:
    return [value.split(b"d=", 1)[1].split(b";", 1)[0].decode() for value in _signatures(data)]


def _signatures(data: bytes) -> list[bytes]:
    headers, _body = dkim.rfc822_parse(data)
    return [b" ".join(value.split()) for name, value in headers if name.lower() == b"dkim-signature"]


@pytest.mark.parametrize("algorithm", ["rsa", "ed25519"])
def test_a_message_received_by_a_real_server_verifies_and_a_changed_one_does_not(
    smtp, operator, dns, algorithm
):
    key = operator(algorithm)
    message = MessageFactory(
        subject="News for {first_name}", body="Dear {full_name},\nnews.", html_body="<p>Hi</p>"
    )
    data = send_over_smtp(smtp, PreparedMessage(message))

    assert signature_domains(data) == ["mailer.example.net"]
    assert f"a={key.algorithm};".encode() in _signatures(data)[0]
    assert dkim.verify(data, dnsfunc=dns)
    assert not dkim.verify(data.replace(b"news.", b"newz.", 1), dnsfunc=dns)  # the body changed
    assert not dkim.verify(data.replace(b"News for Anna", b"News for Bob", 1), dnsfunc=dns)  # a signed header
    unpublished = FakeDNS()
    assert not dkim.verify(data, dnsfunc=unpublished)


def test_the_sender_domains_key_signs_first_then_the_operators(smtp, operator, dns):
    operator("rsa")
    sender = Sender(from_email="Shop <news@shop.example.com>", dkim_keys=(owner_key("ed25519", dns),))
    data = send_over_smtp(smtp, PreparedMessage(MessageFactory(subject="S", body="B"), sender=sender))

    assert signature_domains(data) == ["shop.example.com", "mailer.example.net"]
    assert verifies(data, 0, dns) and verifies(data, 1, dns)
    tampered = data.replace(b"\r\n\r\nB", b"\r\n\r\nX", 1)
    assert tampered != data
    assert not verifies(tampered, 0, dns) and not verifies(tampered, 1, dns)


def test_without_the_operators_key_only_the_domain_key_signs_and_without_both_nothing(smtp, dns):
    signing.operator_key.cache_clear()
    sender = Sender(from_email="news@shop.example.com", dkim_keys=(owner_key("rsa", dns),))
    data = send_over_smtp(smtp, PreparedMessage(MessageFactory(), sender=sender))
    assert signature_domains(data) == ["shop.example.com"] and dkim.verify(data, dnsfunc=dns)

    data = send_over_smtp(smtp, PreparedMessage(MessageFactory()))
    assert b"DKIM-Signature" not in data


def test_the_signed_headers_are_those_of_the_message(smtp, operator, dns):
    operator("ed25519")
    sender = Sender(from_email="Shop <news@shop.example.com>", reply_to="help@shop.example.com")
    data = send_over_smtp(smtp, PreparedMessage(MessageFactory(), sender=sender))
    h = _signatures(data)[0].split(b"h=", 1)[1].split(b";", 1)[0].replace(b" ", b"").split(b":")
    for name in (
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "content-type",
        "list-unsubscribe",
        "list-unsubscribe-post",
        "list-id",
        "reply-to",
    ):
        assert h.count(name.encode()) == 2, name  # present once, signed once more so none can be added
    assert dkim.verify(data, dnsfunc=dns)
    added = data.replace(b"\r\nSubject:", b"\r\nReply-To: evil@example.org\r\nSubject:", 1)
    assert not dkim.verify(added, dnsfunc=dns)


@pytest.mark.parametrize("algorithm", ["rsa", "ed25519"])
def test_the_django_backend_path_sends_the_same_signed_bytes(smtp, operator, dns, settings, algorithm):
    """Django's SMTP backend is handed compose's bytes as they are: re-serialised, a signature could break."""
    operator(algorithm)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    connection = DjangoBackendConnection()
    sender = Sender(from_email="Shop Ünïcode <news@shop.example.com>", dkim_keys=(owner_key("rsa", dns),))
    message = MessageFactory(
        subject="Grüße {first_name}", body="Straße {full_name}\nline", html_body="<b>ö</b>"
    )
    try:
        result = connection.send(
            PreparedMessage(message, sender=sender), email="anna@example.org", full_name="Änna R", token="t"
        )
    finally:
        connection.close()
    assert result.outcome == Outcome.SENT
    data = smtp.received[-1].data
    assert signature_domains(data) == ["shop.example.com", "mailer.example.net"]
    assert verifies(data, 0, dns) and verifies(data, 1, dns)


def test_the_locmem_outbox_keeps_the_signed_bytes_and_the_readable_fields(
    operator, dns, settings, mailoutbox
):
    operator("ed25519")
    settings.EMAIL_HOST = ""
    connection = DjangoBackendConnection()
    try:
        connection.send(
            PreparedMessage(MessageFactory(subject="Hello", body="B")),
            email="a@example.org",
            full_name="A",
            token="t",
        )
    finally:
        connection.close()
    sent = mailoutbox[0]
    assert sent.subject == "Hello" and sent.to == ["A <a@example.org>"]
    assert sent.message()["From"] == "Mailer <noreply@localhost>"
    assert dkim.verify(sent.message().as_bytes(), dnsfunc=dns)


def test_dkim_keygen_writes_a_private_pem_and_prints_the_record(tmp_path, settings, dns):
    for algorithm in ("rsa", "ed25519"):
        path = tmp_path / f"{algorithm}.pem"
        out = io.StringIO()
        call_command(
            "dkim_keygen",
            algorithm=algorithm,
            out=str(path),
            domain="op.example.net",
            selector="k1",
            stdout=out,
        )
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        printed = out.getvalue()
        key = signing.load_private_key(path.read_bytes(), domain="op.example.net", selector="k1", source="t")
        assert "k1._domainkey.op.example.net" in printed and signing.public_record(key) in printed
        assert "PRIVATE KEY" not in printed
        with pytest.raises(CommandError, match="exists"):
            call_command("dkim_keygen", algorithm=algorithm, out=str(path), stdout=io.StringIO())
    with pytest.raises(CommandError):
        call_command("dkim_keygen", algorithm="dsa", out=str(tmp_path / "x.pem"), stdout=io.StringIO())


# A 512-bit RSA key made for this test only (`cryptography` refuses to generate one under 1024 bits).
WEAK_RSA_512 = """-----BEGIN PRIVATE KEY-----
MIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEA6bnqjFGeKdXHjbUx
rL7iE/FaGiJeEGAqqpYgb2s7l8vfqqJZPCboKJFu0ZT9+25XwWcUxSPzkVZMCMpo
sl9yawIDAQABAkEA5XX+PHZgtifIe2o5c6QPZo7b665z9NXE7abn/xsi7Xl9MQuK
Y6AHpnHnq+h1yuu2YTSB5tY6cXoWZhcU3ll+wQIhAPckCtM3MS8s7G/lFNJssnNL
ai/dJ+6xeqkc6aI2X4RhAiEA8hrFfSZkXS2gwwsrMjNc3piyBUrRPOSldSP/QdBD
6ksCICHSe+zGC+Qh6MWzezMFDzL6KjEcuh9PiLLmMw8xE8dhAiB06MabA5INiL4L
0XXffPwIpZW5hoJ5tDPN2D8n6ckR9wIhAMszGkHh5ISJ+QfvIPoaU9XR3Z93nO65
EuqZMLmoi/i+
-----END PRIVATE KEY-----
"""

BROKEN = [
    ("not a key", "not a PEM private key"),
    (
        "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIPRIVATEPARTSHOULDNOTLEAK\n"
        "-----END PRIVATE KEY-----\n",
        "not a PEM",
    ),
]


@pytest.mark.parametrize(("content", "says"), BROKEN)
def test_a_bad_operator_key_stops_the_start_with_a_clear_message_without_the_key(
    settings, tmp_path, content, says
):
    path = tmp_path / "bad.pem"
    path.write_text(content)
    settings.DKIM_DOMAIN, settings.DKIM_PRIVATE_KEY_FILE = "mailer.example.net", str(path)
    signing.operator_key.cache_clear()
    try:
        with pytest.raises(ImproperlyConfigured) as caught:
            apps.get_app_config("mailings").ready()
    finally:
        settings.DKIM_PRIVATE_KEY_FILE = ""
        signing.operator_key.cache_clear()
    message = str(caught.value)
    assert "DKIM_PRIVATE_KEY_FILE" in message and says in message
    assert "PRIVATEPART" not in message and caught.value.__cause__ is None


def test_an_encrypted_a_weak_a_missing_key_and_a_key_without_domain_are_refused(settings, tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    cases = {
        "encrypted": rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"pw"),
        ),
        "1024": WEAK_RSA_512.encode(),
        "RSA or Ed25519": ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    }
    for says, pem in cases.items():
        path = tmp_path / "k.pem"
        path.write_bytes(pem)
        settings.DKIM_DOMAIN, settings.DKIM_PRIVATE_KEY_FILE = "mailer.example.net", str(path)
        signing.operator_key.cache_clear()
        with pytest.raises(ImproperlyConfigured, match=says):
            signing.operator_key()
    settings.DKIM_PRIVATE_KEY_FILE = str(tmp_path / "missing.pem")
    signing.operator_key.cache_clear()
    with pytest.raises(ImproperlyConfigured, match="cannot be read"):
        signing.operator_key()
    settings.DKIM_DOMAIN, settings.DKIM_PRIVATE_KEY_FILE = "", str(path)
    signing.operator_key.cache_clear()
    with pytest.raises(ImproperlyConfigured, match="DKIM_DOMAIN"):
        signing.operator_key()
    settings.DKIM_PRIVATE_KEY_FILE = ""
    signing.operator_key.cache_clear()
    assert signing.operator_key() is None


def test_a_stored_key_that_cannot_be_read_is_left_out_with_a_warning_that_does_not_show_it(
    smtp, operator, dns, caplog
):
    operator("ed25519")
    secret = b"-----BEGIN PRIVATE KEY-----\nTOPSECRETMATERIAL\n-----END PRIVATE KEY-----\n"
    sender = Sender(
        from_email="news@shop.example.com", dkim_keys=(DkimKey("shop.example.com", "s1", secret),)
    )
    with caplog.at_level(logging.WARNING):
        prepared = PreparedMessage(MessageFactory(), sender=sender)
    data = send_over_smtp(smtp, prepared)
    assert signature_domains(data) == ["mailer.example.net"] and dkim.verify(data, dnsfunc=dns)
    assert "s1._domainkey.shop.example.com" in caplog.text and "TOPSECRET" not in caplog.text


def test_no_repr_shows_a_private_key(operator, dns):
    key = operator("rsa")
    stored = owner_key("ed25519", dns)
    prepared = PreparedMessage(
        MessageFactory(), sender=Sender(from_email="a@shop.example.com", dkim_keys=(stored,))
    )
    shown = repr(key) + repr(stored) + repr(prepared.signer.keys) + repr(prepared.sender)
    assert "PRIVATE" not in shown and stored.private_key.decode() not in shown
    assert "mailer.example.net" in shown and "shop.example.com" in shown


def test_folded_and_encoded_headers_verify(smtp, operator, dns):
    """A long non-ASCII subject and owner name are folded or encoded over several words: still verified."""
    operator("ed25519")
    owner = UserFactory(first_name="Очень длинное имя владельца", last_name="Магазин " * 10)
    message = MessageFactory(
        owner=owner, subject="Большие новости для {first_name} " * 4, body="Текст\n" * 50
    )
    data = send_over_smtp(smtp, PreparedMessage(message), full_name="Анна Читательница " * 3)
    head = data.split(b"\r\n\r\n", 1)[0]
    assert b"\r\n =?utf-8?" in head  # a header folded over several lines
    assert dkim.verify(data, dnsfunc=dns)
    assert not dkim.verify(data.replace(b"=?utf-8?", b"=?UTF-8?", 1), dnsfunc=dns)
