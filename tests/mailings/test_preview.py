"""Preview and test send (R-SEND-9, R-AUTH-4/5).

The preview is built by the compose step the engine sends with, so it is what the loopback SMTP server
receives for that client; a test send goes through the engine's transport to the actor's own address,
reports the server's answer (never raises for a server problem), is rate-limited and leaves no delivery log.
"""

from email import message_from_bytes
from email.header import decode_header, make_header

import pytest
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError

from backend.accounts.ratelimit import RateLimited
from backend.mailings import services
from backend.mailings.compose import SendResult
from backend.mailings.errors import ErrorCode
from backend.mailings.models import Client, Delivery, DeliveryAttempt
from backend.mailings.sending import send_due
from backend.mailings.sending.transport import open_connection
from backend.mailings.unsubscribe import unsubscribe_token_from
from tests.factories import ClientFactory, MessageFactory, UserFactory, make_manager
from tests.fakes.smtp import closed_port
from tests.sending_helpers import due_mailing

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return UserFactory(email="owner@example.com", first_name="Olga", last_name="Orlova")


@pytest.fixture
def message(owner):
    return MessageFactory(
        owner=owner,
        subject="Привет, {first_name}",
        body="Dear {full_name},\r\nyour address is {email}.",
        html_body="<p>Dear {full_name}</p>",
    )


@pytest.fixture
def client_(owner):
    return ClientFactory(owner=owner, email="ann@example.org", full_name="Ann <b>Lee</b>")


def parts_received(received) -> dict[str, str]:
    parsed = message_from_bytes(received.data)
    parts = {
        part.get_content_type(): part.get_payload(decode=True).decode().replace("\r\n", "\n")
        for part in parsed.walk()
        if not part.is_multipart()
    }
    parts["subject"] = str(make_header(decode_header(parsed["Subject"])))
    parts["to"] = str(make_header(decode_header(parsed["To"])))
    parts["from"] = parsed["From"]
    parts["List-Unsubscribe"] = parsed["List-Unsubscribe"]
    return parts


# --- preview --------------------------------------------------------------------------------


def test_preview_is_exactly_what_the_engine_sends_that_client(smtp, owner, message, client_):
    """Placeholders filled, HTML values escaped, the client's own unsubscribe link (R-SEND-9). Tracking off:
    with it on, the engine adds the open pixel and tracked links, which a preview never has (R-ENG-2)."""
    preview = services.message_preview(actor=owner, message=message, client=client_)
    due_mailing(clients=0, owner=owner, message=message, tracking=False).clients.set([client_])
    send_due()
    received = parts_received(smtp.received[0])
    assert preview.subject == received["subject"] == "Привет, Ann"
    assert preview.text == received["text/plain"]
    assert preview.html == received["text/html"]
    assert preview.to == received["to"] == '"Ann <b>Lee</b>" <ann@example.org>'
    assert preview.from_email == received["from"]
    assert preview.headers["List-Unsubscribe"] == received["List-Unsubscribe"]

    assert preview.text.startswith("Dear Ann <b>Lee</b>,\nyour address is ann@example.org.\n")
    assert preview.html.startswith("<p>Dear Ann &lt;b&gt;Lee&lt;/b&gt;</p>")
    link = preview.headers["List-Unsubscribe"].strip("<>")
    assert link in preview.text and link in preview.html
    assert unsubscribe_token_from(link.rstrip("/").rsplit("/", 1)[1]) == client_.unsubscribe_token


def test_preview_of_a_plain_text_message_has_no_html(owner, client_):
    message = MessageFactory(owner=owner, subject="Hi", body="Hello {first_name}")
    preview = services.message_preview(actor=owner, message=message, client=client_)
    assert preview.html == ""
    assert preview.text.startswith("Hello Ann\n\n-- \n")


def test_preview_for_an_address_no_server_could_take_is_refused(owner, message):
    client = ClientFactory(owner=owner, email="иван@example.org")
    with pytest.raises(ValidationError) as caught:
        services.message_preview(actor=owner, message=message, client=client)
    assert caught.value.code == ErrorCode.UNSENDABLE_ADDRESS


def test_a_superuser_previews_any_owners_message_for_that_owners_client(message, client_):
    root = UserFactory(is_superuser=True, is_staff=True)
    assert services.message_preview(actor=root, message=message, client=client_).subject == "Привет, Ann"
    with pytest.raises(PermissionDenied):
        services.message_preview(actor=root, message=message, client=ClientFactory())


@pytest.mark.parametrize("who", ["stranger", "manager", "blocked", "anonymous"])
def test_others_managers_blocked_and_anonymous_see_no_preview(owner, message, client_, who):
    """R-AUTH-5: managers see no message text; R-AUTH-4: another owner's message or client is refused."""
    if who == "blocked":
        owner.is_blocked = True
        owner.save()
    actor = {
        "stranger": UserFactory,
        "manager": make_manager,
        "blocked": lambda: owner,
        "anonymous": AnonymousUser,
    }[who]()
    with pytest.raises(PermissionDenied):
        services.message_preview(actor=actor, message=message, client=client_)


def test_an_owner_cannot_preview_with_another_owners_client_or_message(owner, message, client_):
    with pytest.raises(PermissionDenied):
        services.message_preview(actor=owner, message=message, client=ClientFactory())
    with pytest.raises(PermissionDenied):
        services.message_preview(actor=owner, message=MessageFactory(), client=client_)


# --- test send -------------------------------------------------------------------------------


def test_test_send_goes_to_the_actors_own_address_with_the_servers_answer(smtp, owner, message):
    result = services.message_send_test(actor=owner, message=message, connect=open_connection)
    assert result.accepted is True
    assert result.code == 250
    assert "queued" in result.answer
    (received,) = smtp.received
    assert received.rcpt_tos == ["owner@example.com"]
    parts = parts_received(received)
    assert parts["subject"] == "Привет, Olga"
    assert parts["text/plain"].startswith("Dear Olga Orlova,\nyour address is owner@example.com.\n")
    assert parts["List-Unsubscribe"]
    assert not Delivery.objects.exists() and not DeliveryAttempt.objects.exists()
    assert not Client.objects.exists()


def test_a_test_sends_unsubscribe_link_says_it_is_a_test_and_unsubscribes_nobody_R_SEND_9(
    smtp, owner, message, client
):
    """R-SEND-9: the link in a test email opens a page that says it is a test send's link (not "does not
    work"), by GET and by the one-click POST, and changes nothing; a forged link still does not work."""
    ClientFactory(owner=owner, email=owner.email)
    services.message_send_test(actor=owner, message=message, connect=open_connection)
    link = parts_received(smtp.received[0])["List-Unsubscribe"].strip("<>")
    path = link.removeprefix(settings.SITE_URL)
    for response in (client.get(path), client.post(path, {"List-Unsubscribe": "One-Click"})):
        assert response.status_code == 200
        html = response.content.decode()
        assert "This is a test email's link" in html and "does not work" not in html
    assert not Client.objects.filter(unsubscribed_at__isnull=False).exists()
    forged = client.get(path[:-3] + "xx/")
    assert forged.status_code == 404 and "does not work" in forged.content.decode()


def test_test_send_goes_through_the_transport_it_is_handed_and_closes_it(owner, message):
    """The domain holds no transport of its own: whatever `connect` opens is what sends, once, and is
    closed after."""
    calls = []

    class Recording:
        def send(self, prepared, *, email, full_name, token):
            calls.append(
                ("send", email, full_name, prepared.parts(email=email, full_name=full_name, token=token))
            )
            return SendResult(DeliveryAttempt.Outcome.TEMPORARY, 451, "try later")

        def close(self):
            calls.append(("close",))

    result = services.message_send_test(actor=owner, message=message, connect=Recording)
    assert (result.accepted, result.code, result.answer) == (False, 451, "try later")
    assert [call[:3] for call in calls] == [("send", "owner@example.com", "Olga Orlova"), ("close",)]
    assert calls[0][3].subject == "Привет, Olga"


def test_without_a_name_the_sample_name_is_the_address_before_the_at(smtp, message):
    nameless = UserFactory(email="nameless@example.com", first_name="", last_name="")
    message.owner = nameless
    message.save()
    services.message_send_test(actor=nameless, message=message, connect=open_connection)
    assert parts_received(smtp.received[0])["subject"] == "Привет, nameless"


def test_a_refusal_is_an_answer_not_an_exception(smtp, owner, message):
    smtp.set(reject={"owner@example.com"})
    result = services.message_send_test(actor=owner, message=message, connect=open_connection)
    assert (result.accepted, result.code) == (False, 550)
    assert "User unknown" in result.answer
    assert not smtp.received


def test_an_unreachable_server_is_an_answer_not_an_exception(smtp, settings, owner, message):
    settings.EMAIL_PORT = closed_port()
    result = services.message_send_test(actor=owner, message=message, connect=open_connection)
    assert (result.accepted, result.code) == (False, None)
    assert "refused" in result.answer.lower()


def test_without_smtp_the_configured_django_backend_is_used(settings, owner, message):
    settings.EMAIL_HOST = ""
    result = services.message_send_test(actor=owner, message=message, connect=open_connection)
    assert result.accepted is True
    assert [m.to for m in mail.outbox] == [["Olga Orlova <owner@example.com>"]]


def test_test_sends_are_limited_per_user_and_hour(smtp, owner, message):
    """Cannot be used to flood anyone: the eleventh in an hour is refused and not sent."""
    for _ in range(services.TEST_SENDS_PER_HOUR):
        assert services.message_send_test(actor=owner, message=message, connect=open_connection).accepted
    with pytest.raises(RateLimited):
        services.message_send_test(actor=owner, message=message, connect=open_connection)
    assert len(smtp.received) == services.TEST_SENDS_PER_HOUR
    other = UserFactory()
    assert services.message_send_test(
        actor=other, message=MessageFactory(owner=other), connect=open_connection
    ).accepted


def test_a_superuser_test_sends_anyones_message_to_their_own_address(smtp, message):
    root = UserFactory(email="root@example.com", is_superuser=True, is_staff=True)
    assert services.message_send_test(actor=root, message=message, connect=open_connection).accepted
    assert smtp.recipients() == ["root@example.com"]


@pytest.mark.parametrize("who", ["stranger", "manager", "blocked", "anonymous"])
def test_others_managers_blocked_and_anonymous_cannot_test_send(smtp, owner, message, who):
    if who == "blocked":
        owner.is_blocked = True
        owner.save()
    actor = {
        "stranger": UserFactory,
        "manager": make_manager,
        "blocked": lambda: owner,
        "anonymous": AnonymousUser,
    }[who]()
    with pytest.raises(PermissionDenied):
        services.message_send_test(actor=actor, message=message, connect=open_connection)
    assert not smtp.received
