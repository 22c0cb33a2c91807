"""Writes on sender identities and domains (R-DLV-1, R-DLV-2).

- An owner creates, edits and deletes their own identities. An identity is usable (`selectors.
  usable_senders`) once the link mailed to its address is followed (`sender_confirm`), or when its address
  is at a domain of the owner's whose DKIM record was found. A new address — a new identity or a changed
  one — gets a fresh link and is unconfirmed until it is followed; the old link stops working.
- The link is a random 256-bit token, works SENDER_CONFIRMATION_DAYS after it was sent, and confirms only by
  a POST (the page at the link shows a button): mail scanners that open every link change nothing.
- A manager revokes an identity with a reason (`roles.may_revoke_senders`); a revoked identity is never
  usable again, cannot be edited or deleted by its owner (that would clear the revocation), and a mailing
  that uses it is sent from the operator's address (`selectors.sender_of`).
- A domain gets a DKIM key pair and a random selector when added; "Check DNS" (`sender_domain_check`)
  looks the record up and verifies the domain when the published key matches.

The confirmation mail is sent at once through Django's mail connection (SMTP whenever EMAIL_HOST is set, as
the engine and the account emails send), not the account-email outbox: that outbox looks accounts up by
address, and an identity is not an account. A mail server that is down leaves the identity saved and
unconfirmed; the owner sends the link again (`sender_send_confirmation`).
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMessage, get_connection
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from backend.accounts import ratelimit, roles
from backend.accounts.models import User

from .. import domainkeys, selectors
from ..compose import one_line
from ..errors import ErrorCode
from ..forms import SenderDomainForm, SenderIdentityForm
from ..models import SenderDomain, SenderIdentity, new_unsubscribe_token
from .base import FormInvalid, owner_for_create, require_can_act, require_can_edit, validated

logger = logging.getLogger(__name__)

# Per owner and hour: confirmation mails (each goes to an address the owner typed, so it must not become a
# way to mail anyone repeatedly) and DNS checks.
CONFIRMATIONS_PER_HOUR = 10
DNS_CHECKS_PER_HOUR = 30
SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"


# --- identities -----------------------------------------------------------------------------------------


def confirmation_expires_at(identity: SenderIdentity) -> dt.datetime | None:
    """Until when the identity's current link works; None when none was sent."""
    if identity.confirmation_sent_at is None:
        return None
    return identity.confirmation_sent_at + dt.timedelta(days=settings.SENDER_CONFIRMATION_DAYS)


def _needs_confirmation(identity: SenderIdentity) -> bool:
    return (
        identity.confirmed_at is None
        and identity.revoked_at is None
        and not selectors.usable_senders(identity.owner).filter(pk=identity.pk).exists()
    )


def _take_confirmation(owner: User) -> None:
    ratelimit.take(
        ratelimit.Limit("sender-confirmation", str(owner.pk), CONFIRMATIONS_PER_HOUR, ratelimit.HOUR)
    )


def _saved_identity(form: SenderIdentityForm) -> SenderIdentity:
    try:
        with transaction.atomic():
            return form.save()
    except IntegrityError:
        form.add_error(
            "from_email",
            ValidationError(
                _("You already have a sender with this address."), code=ErrorCode.DUPLICATE_SENDER
            ),
        )
        raise FormInvalid(form) from None


def _mail_connection():
    return get_connection(SMTP_BACKEND if settings.EMAIL_HOST else None, fail_silently=False)


def _send_link(identity: SenderIdentity) -> bool:
    """A new link for `identity`, mailed to its address. True when the mail server took it; the time it
    was sent is recorded then only (the link's lifetime counts from it)."""
    token = new_unsubscribe_token()
    SenderIdentity.objects.filter(pk=identity.pk).update(confirmation_token=token, confirmation_sent_at=None)
    identity.confirmation_token, identity.confirmation_sent_at = token, None
    context = {
        "identity": identity,
        "owner": identity.owner,
        "link": settings.SITE_URL + reverse("senders:confirm", args=[token]),
        "days": int(settings.SENDER_CONFIRMATION_DAYS),
    }
    subject = " ".join(render_to_string("web/senders/email/confirm_subject.txt", context).split())
    body = render_to_string("web/senders/email/confirm_body.txt", context)
    message = EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [identity.from_email])
    message.connection = _mail_connection()
    try:
        message.send()
    except (smtplib.SMTPException, OSError) as exc:
        logger.warning(
            "sender confirmation for identity %s not sent: %s: %s", identity.pk, type(exc).__name__, exc
        )
        return False
    now = timezone.now()
    SenderIdentity.objects.filter(pk=identity.pk, confirmation_token=token).update(confirmation_sent_at=now)
    identity.confirmation_sent_at = now
    return True


def sender_create(*, actor: User, data: dict, owner: User | None = None) -> SenderIdentity:
    """A new identity; its confirmation link is mailed at once unless its domain is already verified. A
    mail server that refused leaves it saved, `confirmation_sent_at` empty (the page offers to resend)."""
    owner = owner_for_create(actor, owner)
    form = validated(SenderIdentityForm(data=data, owner=owner))
    domain = form.cleaned_data["from_email"].rpartition("@")[2]
    if domain not in selectors.verified_domains(owner.pk):
        _take_confirmation(owner)
    identity = _saved_identity(form)
    if _needs_confirmation(identity):
        _send_link(identity)
    return identity


def _require_not_revoked(identity: SenderIdentity) -> None:
    if identity.revoked_at is not None:
        raise ValidationError(
            _("A manager revoked this sender; it cannot be changed, confirmed or deleted."),
            code=ErrorCode.SENDER_REVOKED,
        )


def sender_update(*, actor: User, identity: SenderIdentity, data: dict) -> SenderIdentity:
    """Change the name, address or Reply-To. A new address is unconfirmed until its own link is followed."""
    require_can_edit(actor, identity)
    _require_not_revoked(identity)
    old_email = identity.from_email
    form = validated(SenderIdentityForm(data=data, instance=identity, owner=identity.owner))
    new_address = form.cleaned_data["from_email"].lower() != old_email.lower()
    if new_address:
        domain = form.cleaned_data["from_email"].rpartition("@")[2]
        if domain not in selectors.verified_domains(identity.owner_id):
            _take_confirmation(identity.owner)
        identity = form.save(commit=False)
        identity.confirmed_at = None
        identity.confirmation_sent_at = None
        identity.confirmation_token = new_unsubscribe_token()  # the old address's link stops working
    identity = _saved_identity(form)
    if new_address and _needs_confirmation(identity):
        _send_link(identity)
    return identity


def sender_delete(*, actor: User, identity: SenderIdentity) -> None:
    """Mailings that used it are sent from the operator's address. A revoked one stays on record."""
    require_can_edit(actor, identity)
    _require_not_revoked(identity)
    with transaction.atomic():
        identity.delete()


def sender_send_confirmation(*, actor: User, identity: SenderIdentity) -> SenderIdentity:
    """Mail a new link (the previous one stops working). Refused for a confirmed or revoked identity;
    CONFIRMATION_NOT_SENT when the mail server did not take it."""
    require_can_edit(actor, identity)
    identity = SenderIdentity.objects.select_related("owner").get(pk=identity.pk)  # as it is now
    _require_not_revoked(identity)
    if identity.confirmed_at is not None:
        raise ValidationError(_("This address is already confirmed."), code=ErrorCode.SENDER_CONFIRMED)
    _take_confirmation(identity.owner)
    if not _send_link(identity):
        raise ValidationError(
            _("The confirmation could not be sent: the mail server did not take it. Try again later."),
            code=ErrorCode.CONFIRMATION_NOT_SENT,
        )
    return identity


def sender_confirm(*, token: str) -> SenderIdentity:
    """Follow a confirmation link (a POST: see the module's note). No actor: whoever reads the mailbox
    proves it is theirs. Confirming twice is harmless."""
    with transaction.atomic():
        identity = (
            SenderIdentity.objects.select_for_update().filter(confirmation_token=token).first()
            if token and len(token) <= 64
            else None
        )
        if identity is None:
            raise ValidationError(
                _("This confirmation link is not valid; it may have been replaced by a newer one."),
                code=ErrorCode.INVALID,
            )
        _require_not_revoked(identity)
        if identity.confirmed_at is not None:
            return identity
        expires = confirmation_expires_at(identity)
        if expires is None or expires <= timezone.now():
            raise ValidationError(
                _("This confirmation link has expired; the sender's owner can send a new one."),
                code=ErrorCode.CONFIRMATION_EXPIRED,
            )
        identity.confirmed_at = timezone.now()
        identity.save(update_fields=["confirmed_at"])
    return identity


def sender_revoke(*, actor: User, identity: SenderIdentity, reason: str) -> SenderIdentity:
    """A manager's decision (R-DLV-1): the identity is never used again; its owner sees why."""
    require_can_act(actor)
    if not roles.may_revoke_senders(actor):
        raise PermissionDenied(_("Only managers can revoke senders."))
    reason = " ".join(one_line(reason or "").split())
    if not reason:
        raise ValidationError({"reason": ValidationError(_("Say why."), code=ErrorCode.REQUIRED)})
    if len(reason) > 255:
        raise ValidationError(
            {"reason": ValidationError(_("At most 255 characters."), code=ErrorCode.INVALID)}
        )
    with transaction.atomic():
        identity = SenderIdentity.objects.select_for_update().get(pk=identity.pk)
        if identity.revoked_at is None:
            identity.revoked_at = timezone.now()
            identity.revoked_by = actor
            identity.revoked_reason = reason
            identity.save(update_fields=["revoked_at", "revoked_by", "revoked_reason"])
    logger.info("sender identity %s revoked by user %s", identity.pk, actor.pk)
    return identity


# --- domains --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DnsRecord:
    """The TXT record an owner publishes for a sender domain."""

    name: str
    value: str


def dns_record(domain: SenderDomain) -> DnsRecord:
    return DnsRecord(
        name=domainkeys.record_name(domain.domain, domain.selector),
        value=domainkeys.record_value(domain.algorithm, domain.public_key),
    )


def sender_domain_add(*, actor: User, data: dict, owner: User | None = None) -> SenderDomain:
    """A domain with a new key pair (RSA-2048 unless Ed25519 is chosen) and a random selector; verified
    once `sender_domain_check` finds the record."""
    owner = owner_for_create(actor, owner)
    form = validated(SenderDomainForm(data=data, owner=owner))
    algorithm = form.cleaned_data.get("algorithm") or SenderDomain.Algorithm.RSA
    keys = domainkeys.generate(algorithm)
    domain = form.save(commit=False)
    domain.algorithm = algorithm
    domain.selector = domainkeys.new_selector()
    domain.private_key = keys.private_pem.decode("ascii")
    domain.public_key = keys.public
    try:
        with transaction.atomic():
            domain.save()
    except IntegrityError:
        form.add_error(
            "domain", ValidationError(_("You already added this domain."), code=ErrorCode.DUPLICATE_DOMAIN)
        )
        raise FormInvalid(form) from None
    return domain


def sender_domain_check(*, actor: User, domain: SenderDomain) -> SenderDomain:
    """Look the domain's DKIM record up and record what was found. A matching key verifies the domain; a
    definite "not there" or another key unverifies it (its mail would not verify); no usable answer
    (timeout, resolver failure) changes nothing but the recorded result."""
    require_can_edit(actor, domain)
    ratelimit.take(
        ratelimit.Limit("dkim-dns-check", str(domain.owner_id), DNS_CHECKS_PER_HOUR, ratelimit.HOUR)
    )
    found = domainkeys.check(domain.domain, domain.selector, domain.algorithm, domain.public_key)
    now = timezone.now()
    if found.outcome == domainkeys.Outcome.FOUND:
        verified_at = domain.verified_at or now
        text = _("Found: the published key matches. (%(detail)s)")
    elif found.outcome == domainkeys.Outcome.MISMATCH:
        verified_at = None
        text = _("Another key is published there; publish the record shown here. (%(detail)s)")
    elif found.outcome == domainkeys.Outcome.MISSING:
        verified_at = None
        text = _("Not found yet: the record is not published (DNS changes can take an hour). (%(detail)s)")
    else:
        verified_at = domain.verified_at
        text = _("The DNS lookup failed; try again later. (%(detail)s)")
    domain.checked_at = now
    domain.check_result = text % {"detail": found.detail}
    domain.verified_at = verified_at
    SenderDomain.objects.filter(pk=domain.pk).update(
        checked_at=domain.checked_at, check_result=domain.check_result, verified_at=verified_at
    )
    return domain


def sender_domain_delete(*, actor: User, domain: SenderDomain) -> None:
    """Addresses at it stay usable only if confirmed by their own link."""
    require_can_edit(actor, domain)
    with transaction.atomic():
        SenderDomain.objects.filter(pk=domain.pk).delete()
