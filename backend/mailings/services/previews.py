"""A message as one recipient would receive it (preview), and a test send to the actor's own address.

Both use the domain's compose step (compose.py), which the engine sends with, so a preview is exactly what
would be sent. The test send goes through the transport interface (`compose.Connection`, which the engine's
sending/transport.py implements), handed in by its caller (`connect`): the domain never imports the sender.
"""

from collections.abc import Callable
from dataclasses import dataclass
from email.header import decode_header, make_header

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext as _

from backend.accounts import ratelimit
from backend.accounts.models import User

from .. import selectors
from ..compose import Connection, PreparedMessage, Sender, UnsafeRecipient
from ..errors import ErrorCode
from ..models import Client, DeliveryAttempt, Message, SenderIdentity
from ..unsubscribe import test_send_token
from .base import require_can_edit

TEST_SENDS_PER_HOUR = 10


@dataclass(frozen=True)
class Preview:
    """One recipient's email as the engine builds it: `to` and `from_email` readable (not MIME-encoded),
    `html` "" when the message has no HTML version, `headers` the list headers (R-SEND-9)."""

    subject: str
    text: str
    html: str
    to: str
    from_email: str
    headers: dict[str, str]


@dataclass(frozen=True)
class TestSendResult:
    """The mail server's answer to a test send: `code` is its SMTP reply code when there was one."""

    __test__ = False  # not a pytest test class, whatever its name

    accepted: bool
    code: int | None
    answer: str


def _sender(message: Message, identity: SenderIdentity | None) -> Sender:
    """Who the message would come from: `identity` (one of its owner's) as a mailing using it sends, or the
    owner's default sender (R-DLV-1) when there is none."""
    if identity is not None and identity.owner_id != message.owner_id:
        raise PermissionDenied(_("The message and the sender belong to different users."))
    return selectors.sender_of(message.owner, identity)


def message_preview(
    *, actor: User, message: Message, client: Client, sender: SenderIdentity | None = None
) -> Preview:
    """Exactly what the engine would send `client` for `message`: the compose step the engine sends with,
    placeholders filled and the client's real unsubscribe footer and headers (R-SEND-9). Owner or superuser
    only, message and client of one owner; a manager sees no message text (R-AUTH-5)."""
    require_can_edit(actor, message)
    require_can_edit(actor, client)
    if message.owner_id != client.owner_id:
        raise PermissionDenied(_("The message and the client belong to different users."))
    prepared = PreparedMessage(message, sender=_sender(message, sender))
    try:
        parts = prepared.parts(email=client.email, full_name=client.full_name, token=client.unsubscribe_token)
    except UnsafeRecipient as exc:
        raise ValidationError(
            _("Nothing can be sent to %(email)s: the address cannot be used on the wire."),
            code=ErrorCode.UNSENDABLE_ADDRESS,
            params={"email": client.email},
        ) from exc
    return Preview(
        subject=parts.subject,
        text=parts.text,
        html=parts.html,
        to=str(make_header(decode_header(parts.to))),
        from_email=prepared.from_email,
        headers=parts.headers,
    )


def message_send_test(
    *,
    actor: User,
    message: Message,
    connect: Callable[[], Connection],
    sender: SenderIdentity | None = None,
) -> TestSendResult:
    """Send `message` to the actor's own address, personalised with the actor as the sample client, through
    the engine's transport and settings, and return the server's answer. An unreachable or refusing server
    gives `accepted=False` with its error, never an exception. At most TEST_SENDS_PER_HOUR per user and
    hour (raises `RateLimited`), so it cannot be used to flood anyone; nothing goes into the delivery log.
    The unsubscribe link in it belongs to no client: its page says it is a test send's link and unsubscribes
    nobody (`unsubscribe.test_send_token`). `connect` opens
    the engine's transport (`sending.transport.open_connection`, what the workers send through)."""
    require_can_edit(actor, message)
    prepared = PreparedMessage(message, sender=_sender(message, sender))
    ratelimit.take(ratelimit.Limit("test-send", str(actor.pk), TEST_SENDS_PER_HOUR, ratelimit.HOUR))
    full_name = actor.get_full_name() or actor.email.rpartition("@")[0]
    transport = connect()
    try:
        result = transport.send(prepared, email=actor.email, full_name=full_name, token=test_send_token())
    finally:
        transport.close()
    return TestSendResult(
        accepted=result.outcome == DeliveryAttempt.Outcome.SENT, code=result.code, answer=result.text
    )
