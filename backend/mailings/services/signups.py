"""Public sign-up forms and double opt-in (R-ENG-1), and the client's own preferences (R-ENG-3).

- An owner creates, edits and deletes their own forms (the usual actor checks).
- `signup_request`: a visitor's address and name, posted from the hosted page or a pasted snippet. Nothing
  is stored: the confirmation link carries the form, the address, the name, the time and the visitor's IP
  address, signed (its own salt) and good for SIGNUP_CONFIRM_DAYS, plus a digest of the consent text shown,
  so the consent recorded is the text the visitor saw. The mail counts in the owner's daily sending quota
  and comes from the form's sender identity, else the owner's first usable one, else the operator's address.
  An address that is already subscribed gets a mail too (saying so, with its preferences link) and the
  visitor sees the same page as anyone: the page never tells whether an address is on the list.
- Limits: SIGNUP_REQUESTS_PER_IP per visitor address and hour (refused with a page that says so), and
  SIGNUP_REQUESTS_PER_ADDRESS per mailbox, owner and hour (past it no more mail goes out, and the visitor
  sees the usual page: telling them would reveal that someone asked for the address).
- `signup_confirm`: the link followed (a POST; the page at the link shows a button, so mail scanners that
  open links change nothing). In one transaction the client is created or found, subscribed again when it
  had unsubscribed or bounced (this is the person's own fresh consent), its erased-address suppression
  removed, given the form's tags, and a `Consent` recorded. Confirming the same link twice records nothing
  more.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import smtplib
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from backend.accounts import ratelimit, roles
from backend.accounts.models import User

from .. import limits, selectors
from ..errors import ErrorCode
from ..forms import SignupFormForm
from ..models import Client, ClientTag, Consent, SignupForm, Suppression, Unsubscription
from ..unsubscribe import preferences_url
from .base import owner_for_create, require_can_edit, validated
from .senders import _mail_connection

logger = logging.getLogger(__name__)

SALT = "mailer.signup.confirm"


# --- the owner's forms ----------------------------------------------------------------------------------


def signup_form_create(*, actor: User, data: dict, owner: User | None = None) -> SignupForm:
    owner = owner_for_create(actor, owner)
    form = validated(SignupFormForm(data=data, owner=owner))
    with transaction.atomic():
        return form.save()


def signup_form_update(*, actor: User, signup_form: SignupForm, data: dict) -> SignupForm:
    """Links mailed before a change of the consent text no longer confirm (the text shown has changed)."""
    require_can_edit(actor, signup_form)
    form = validated(SignupFormForm(data=data, instance=signup_form, owner=signup_form.owner))
    with transaction.atomic():
        return form.save()


def signup_form_delete(*, actor: User, signup_form: SignupForm) -> None:
    """Its consents stay (their form empty), and so do the clients it brought."""
    require_can_edit(actor, signup_form)
    with transaction.atomic():
        signup_form.delete()


# --- the confirmation link ------------------------------------------------------------------------------


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class SignupRequest:
    """What a confirmation link carries: everything a consent records of the request."""

    form_id: int
    email: str
    full_name: str
    requested_at: dt.datetime
    requested_ip: str | None
    text_digest: str


def confirmation_token(request: SignupRequest) -> str:
    payload = [
        request.form_id,
        request.email,
        request.full_name,
        int(request.requested_at.timestamp()),
        request.requested_ip or "",
        request.text_digest,
    ]
    return signing.dumps(payload, salt=SALT, compress=True)


def _invalid_link() -> ValidationError:
    return ValidationError(
        _("This confirmation link is not valid. Copy the whole link from the email, or sign up again."),
        code=ErrorCode.SIGNUP_LINK_INVALID,
    )


def read_confirmation(token: str, signup_form: SignupForm | None = None) -> SignupRequest:
    """The request a link carries; SIGNUP_LINK_INVALID when it is forged, damaged or another form's (when
    `signup_form` is given), SIGNUP_LINK_EXPIRED after SIGNUP_CONFIRM_DAYS."""
    if not token or len(token) > 2000:
        raise _invalid_link()
    try:
        payload = signing.loads(token, salt=SALT, max_age=dt.timedelta(days=settings.SIGNUP_CONFIRM_DAYS))
    except signing.SignatureExpired:
        raise ValidationError(
            _("This confirmation link has expired. Sign up again to get a new one."),
            code=ErrorCode.SIGNUP_LINK_EXPIRED,
        ) from None
    except (signing.BadSignature, ValueError):
        raise _invalid_link() from None
    try:
        form_id, email, full_name, requested, ip, digest = payload
        request = SignupRequest(
            form_id=int(form_id),
            email=str(email),
            full_name=str(full_name),
            requested_at=dt.datetime.fromtimestamp(int(requested), tz=dt.UTC),
            requested_ip=str(ip) or None,
            text_digest=str(digest),
        )
    except (TypeError, ValueError, OverflowError):
        raise _invalid_link() from None
    if signup_form is not None and request.form_id != signup_form.pk:
        raise _invalid_link()
    return request


def confirmation_url(signup_form: SignupForm, token: str) -> str:
    return settings.SITE_URL + reverse("web:subscribe_confirm", args=[signup_form.public_id, token])


def hosted_url(signup_form: SignupForm) -> str:
    """The form's public page, which the snippet posts to as well."""
    return settings.SITE_URL + reverse("web:subscribe", args=[signup_form.public_id])


def snippet(signup_form: SignupForm) -> str:
    """The HTML an owner pastes on their own site: a plain form that posts to the hosted page's address (no
    script, no style, so no policy of that site stands in its way); its hidden field is the honeypot. A text
    template: it is shown as text on the owner's page and in the API, and is HTML only on the owner's site."""
    context = {"form": signup_form, "action": hosted_url(signup_form)}
    return render_to_string("web/signups/snippet.txt", context).strip() + "\n"


# --- a visitor asks -------------------------------------------------------------------------------------


def _closed() -> ValidationError:
    return ValidationError(
        _("This sign-up form does not take sign-ups at the moment."), code=ErrorCode.SIGNUP_CLOSED
    )


def require_open(signup_form: SignupForm | None) -> SignupForm:
    """The form, when it takes sign-ups: it exists, is active, and its owner can act and send."""
    if (
        signup_form is None
        or not signup_form.is_active
        or not roles.may_act(signup_form.owner)
        or signup_form.owner.sending_paused_at is not None
    ):
        raise _closed()
    return signup_form


def _sender_identity(signup_form: SignupForm):
    if signup_form.sender_id:
        return signup_form.sender
    return selectors.usable_senders(signup_form.owner).order_by("pk").first()


def signup_request(
    *, signup_form: SignupForm, email: str, full_name: str, ip: str | None, now: dt.datetime | None = None
) -> bool:
    """Mail the confirmation link for `email` (already validated by `SubscribeForm`). True when a mail went
    out, False when the address's own limit kept it back (the visitor is not told: see the module's note).
    Raises SIGNUP_CLOSED, SIGNUP_QUOTA or SIGNUP_NOT_SENT (ValidationError), or `ratelimit.RateLimited` for
    the visitor's own limit. No actor: the visitor's mailbox decides, by following the link."""
    signup_form = require_open(signup_form)
    owner = signup_form.owner
    now = now or timezone.now()
    ratelimit.take(
        ratelimit.Limit("signup-ip", ip or "-", settings.SIGNUP_REQUESTS_PER_IP, ratelimit.HOUR), now=now
    )
    try:
        ratelimit.take(
            ratelimit.Limit(
                "signup-address",
                f"{owner.pk}:{email.lower()}",
                settings.SIGNUP_REQUESTS_PER_ADDRESS,
                ratelimit.HOUR,
            ),
            now=now,
        )
    except ratelimit.RateLimited:
        logger.info("sign-up mail for form %s held back: the address asked too often", signup_form.pk)
        return False
    with transaction.atomic():
        allowance = limits.take_quota({owner.pk: 1}, now)[owner.pk]
    if not allowance.allowed:
        raise ValidationError(
            _("This list cannot take more sign-ups today. Please try again tomorrow."),
            code=ErrorCode.SIGNUP_QUOTA,
        )
    request = SignupRequest(
        form_id=signup_form.pk,
        email=email,
        full_name=full_name,
        requested_at=now,
        requested_ip=ip,
        text_digest=text_digest(signup_form.consent_text),
    )
    existing = selectors.subscribed_client(owner.pk, email)
    context = {
        "form": signup_form,
        "owner": owner,
        "link": confirmation_url(signup_form, confirmation_token(request)),
        "days": max(1, round(settings.SIGNUP_CONFIRM_DAYS)),
        "already": existing is not None,
        "preferences": preferences_url(existing.unsubscribe_token) if existing is not None else "",
    }
    subject = " ".join(render_to_string("web/subscribe/email/confirm_subject.txt", context).split())
    body = render_to_string("web/subscribe/email/confirm_body.txt", context)
    sender = selectors.sender_of(owner, _sender_identity(signup_form))
    # From: the owner's sender; the envelope sender stays the operator's address, as the engine's does
    # (R-DLV-3): a relay may refuse a MAIL FROM at a domain it does not host.
    message = EmailMessage(
        subject,
        body,
        settings.DEFAULT_FROM_EMAIL,
        [email],
        reply_to=[sender.reply_to] if sender.reply_to else None,
        headers={"Auto-Submitted": "auto-generated", "From": sender.from_email},
    )
    message.connection = _mail_connection()
    try:
        message.send()
    except (smtplib.SMTPException, OSError) as exc:
        limits.give_back(owner.pk, allowance.day, 1)
        logger.warning("sign-up mail for form %s not sent: %s: %s", signup_form.pk, type(exc).__name__, exc)
        raise ValidationError(
            _("The confirmation mail could not be sent. Please try again later."),
            code=ErrorCode.SIGNUP_NOT_SENT,
        ) from None
    return True


# --- the visitor confirms -------------------------------------------------------------------------------


def signup_pending(*, token: str, public_id: str) -> tuple[SignupRequest, SignupForm]:
    """What a confirmation link asks for, checked as `signup_confirm` checks it, changing nothing (the page
    at the link shows it before the visitor presses the button)."""
    signup_form = selectors.signup_form_public(public_id)
    if signup_form is None:
        raise _closed()
    request = read_confirmation(token, signup_form)
    require_open(signup_form)
    if request.text_digest != text_digest(signup_form.consent_text):
        raise ValidationError(
            _("The wording of this form changed after you signed up. Please sign up again."),
            code=ErrorCode.SIGNUP_FORM_CHANGED,
        )
    return request, signup_form


def signup_confirm(
    *,
    token: str,
    public_id: str,
    ip: str | None,
    user_agent: str = "",
    now: dt.datetime | None = None,
    _retry: bool = True,
) -> tuple[Client, SignupForm]:
    """Follow a confirmation link of the form `public_id` (see the module's note). Returns the client and
    the form. Raises SIGNUP_LINK_INVALID, SIGNUP_LINK_EXPIRED, SIGNUP_CLOSED or SIGNUP_FORM_CHANGED."""
    now = now or timezone.now()
    request, signup_form = signup_pending(token=token, public_id=public_id)
    owner_id = signup_form.owner_id
    email = request.email
    try:
        with transaction.atomic():
            # A link used before changes nothing again: not a later unsubscribe, bounce or tag choice.
            used = (
                Consent.objects.filter(owner_id=owner_id, form=signup_form, requested_at=request.requested_at)
                .annotate(email_lower=Lower("email"))
                .filter(email_lower=email.lower())
                .select_related("client")
                .first()
            )
            if used is not None:
                return used.client, signup_form
            _refuse_if_outdated(owner_id, request)
            client = _subscribed(owner_id, request, now)
            Unsubscription.objects.filter(owner_id=owner_id, email=email.lower()).delete()
            Suppression.objects.filter(owner_id=owner_id, email_hash=selectors.email_hash(email)).delete()
            ClientTag.objects.bulk_create(
                [
                    ClientTag(client=client, tag_id=tag_id)
                    for tag_id in signup_form.tags.values_list("pk", flat=True)
                ],
                ignore_conflicts=True,
            )
            Consent.objects.create(
                owner_id=owner_id,
                client=client,
                form=signup_form,
                email=email,
                text=signup_form.consent_text,
                requested_at=request.requested_at,
                requested_ip=request.requested_ip,
                confirmed_at=now,
                confirmed_ip=ip or None,
                user_agent=user_agent[:255],
            )
    except IntegrityError:
        # The same address confirmed in parallel (a double click): the other request created the client.
        if not _retry:
            raise
        return signup_confirm(
            token=token, public_id=public_id, ip=ip, user_agent=user_agent, now=now, _retry=False
        )
    return client, signup_form


def _refuse_if_outdated(owner_id: int, request: SignupRequest) -> None:
    """A link asked for before the address was unsubscribed or erased at the person's request is void: the
    later choice stands (a new sign-up asks again)."""
    email = request.email.lower()
    # The link keeps the request's time in whole seconds: anything within that second came first.
    after = request.requested_at + dt.timedelta(seconds=1)
    left = Unsubscription.objects.filter(owner_id=owner_id, email=email, created_at__gte=after).exists()
    erased = Suppression.objects.filter(
        owner_id=owner_id, email_hash=selectors.email_hash(email), created_at__gte=after
    ).exists()
    if left or erased:
        raise _invalid_link()


def _subscribed(owner_id: int, request: SignupRequest, now: dt.datetime) -> Client:
    """The owner's client with the request's address, created or made a recipient again."""
    # Matched as the unique constraint matches (LOWER), never by `iexact` (UPPER() folds lookalike letters).
    client = (
        Client.objects.select_for_update()
        .annotate(email_lower=Lower("email"))
        .filter(owner_id=owner_id, email_lower=request.email.lower())
        .first()
    )
    if client is None:
        return Client.objects.create(owner_id=owner_id, email=request.email, full_name=request.full_name)
    changed = []
    if client.unsubscribed_at is not None:
        client.unsubscribed_at = None
        changed.append("unsubscribed_at")
    if client.bounced_at is not None:
        # The link was read in this mailbox: it takes mail now. A bounce of an older message does not count.
        client.bounced_at = None
        client.reactivated_at = now
        changed += ["bounced_at", "reactivated_at"]
    if not client.full_name and request.full_name:
        client.full_name = request.full_name
        changed.append("full_name")
    if changed:
        client.save(update_fields=changed)
    return client


# --- the client's preferences (R-ENG-3) -----------------------------------------------------------------


def client_preferences_set(*, client: Client, tag_ids: list[str]) -> None:
    """The client's own choice among their owner's public tags: those in `tag_ids` on, the other public ones
    off; tags the owner keeps private are never touched. A value that is not one of the public tags refuses
    the whole change. No actor: the signed link in the client's mail is their authority."""
    offered = set(selectors.public_tags(client.owner_id).values_list("pk", flat=True))
    try:
        wanted = {int(value) for value in tag_ids}
    except (TypeError, ValueError):
        wanted = {-1}
    if not wanted <= offered:
        raise ValidationError(_("One of the choices is not offered here."), code=ErrorCode.INVALID_CHOICE)
    with transaction.atomic():
        ClientTag.objects.filter(client=client, tag_id__in=offered - wanted).delete()
        ClientTag.objects.bulk_create(
            [ClientTag(client=client, tag_id=tag_id) for tag_id in sorted(wanted)], ignore_conflicts=True
        )
