"""Automatic protection and the managers' review of senders (R-DLV-5).

`review_senders` (the scheduler, every SEND_REVIEW_MINUTES) pauses an owner whose recent sends bounced or
drew complaints above the thresholds; a paused owner's mailings are not sendable
(`selectors.sendable_mailings`) until a manager resumes them or blocks the owner. Every pause, resume, block
and quota change is a `SendingDecision`: who (empty for the automatic review), when, why, and the figures.
The figures and the list of paused senders are reads, in limits.py (`sender_figures`, `needs_review`).

The figures of an owner: their last SEND_REVIEW_WINDOW sent deliveries of the last SEND_REVIEW_DAYS days,
counted only from their last resume on (a manager's resume starts the count afresh); of those, how many
bounced after acceptance (`Delivery.bounced_at`, or a hard `Bounce` naming it) and how many drew a complaint.
Nobody is judged on fewer than SEND_REVIEW_MIN_SENT sent messages.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from backend.accounts import roles
from backend.accounts import services as account_services
from backend.accounts.forms import BlockReasonForm, SendQuotaForm
from backend.accounts.models import SendingDecision, User

from .. import limits
from ..errors import ErrorCode
from ..models import Bounce, Delivery

logger = logging.getLogger(__name__)

Action = SendingDecision.Action


def _verdict(figures: dict) -> str:
    """Why these figures pause an owner, or "" when they do not."""
    if figures["sent"] < settings.SEND_REVIEW_MIN_SENT:
        return ""
    if figures["bounce_rate"] > settings.BOUNCE_RATE_THRESHOLD:
        return _("%(rate).1f%% of the last %(sent)s messages bounced (the limit is %(limit).1f%%).") % {
            "rate": 100 * figures["bounce_rate"],
            "sent": figures["sent"],
            "limit": 100 * settings.BOUNCE_RATE_THRESHOLD,
        }
    if figures["complaint_rate"] > settings.COMPLAINT_RATE_THRESHOLD:
        return _(
            "%(rate).2f%% of the last %(sent)s messages drew a spam complaint (the limit is %(limit).2f%%)."
        ) % {
            "rate": 100 * figures["complaint_rate"],
            "sent": figures["sent"],
            "limit": 100 * settings.COMPLAINT_RATE_THRESHOLD,
        }
    return ""


def _candidates(now: dt.datetime) -> set[int]:
    """Owners with a bounce or complaint in the last SEND_REVIEW_DAYS days who are sending (not paused, not
    blocked): the only ones whose rates can have passed a threshold since the last review."""
    since = now - dt.timedelta(days=settings.SEND_REVIEW_DAYS)
    sending = User.objects.filter(roles.may_act_q(), sending_paused_at__isnull=True)
    by_delivery = Delivery.objects.filter(
        bounced_at__gte=since, mailing__owner__in=sending.values("pk")
    ).values_list("mailing__owner_id", flat=True)
    by_bounce = Bounce.objects.filter(
        received_at__gte=since,
        kind__in=[Bounce.Kind.HARD, Bounce.Kind.COMPLAINT],
        owner__in=sending.values("pk"),
    ).values_list("owner_id", flat=True)
    return set(by_delivery.distinct()) | set(by_bounce.distinct())


def review_senders(now: dt.datetime | None = None) -> list[int]:
    """Pause every sending owner whose figures pass a threshold (on at least SEND_REVIEW_MIN_SENT sends);
    returns their ids. Idempotent: a paused owner is left as they are, and runs in several schedulers at
    once pause an owner once."""
    now = now or timezone.now()
    paused = []
    for user_id in sorted(_candidates(now)):
        figures = limits.sender_figures(user_id, now)
        reason = _verdict(figures)
        if reason and sending_pause(user_id, reason=reason, figures=figures, now=now):
            logger.warning("sending paused for user %s: %s", user_id, reason, extra={"user_id": user_id})
            paused.append(user_id)
    return paused


def sending_pause(
    user_id: int, *, reason: str, figures: dict, actor: User | None = None, now: dt.datetime | None = None
) -> bool:
    """Pause an owner's sending and record why; False (nothing recorded) when it was paused already."""
    now = now or timezone.now()
    with transaction.atomic():
        changed = User.objects.filter(pk=user_id, sending_paused_at__isnull=True).update(
            sending_paused_at=now, sending_paused_reason=reason[:255]
        )
        if changed:
            SendingDecision.objects.create(
                user_id=user_id,
                action=Action.PAUSED,
                actor=actor,
                reason=reason,
                figures=figures,
                created_at=now,
            )
    return bool(changed)


# --- the managers' decisions ------------------------------------------------------------------------


def _require_reviewer(actor: User, user: User) -> None:
    """The blocking rules (`roles.may_block_users`; not oneself; a superuser only by a superuser): pausing,
    resuming and quotas are a lighter form of the same power over an account."""
    if not roles.may_block_users(actor):
        raise PermissionDenied(_("Only managers can review senders and change quotas."))
    if user.pk == actor.pk:
        raise PermissionDenied(_("You cannot review your own sending."))
    if user.is_superuser and not actor.is_superuser:
        raise PermissionDenied(_("A manager cannot change a superuser's sending."))


def sending_resume(*, actor: User, user: User, reason: str = "") -> User:
    """Lift a pause: the owner's mailings send again, and their next review counts only what is sent from
    now on. Refused (a ValidationError) when their sending is not paused."""
    _require_reviewer(actor, user)
    now = timezone.now()
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if user.sending_paused_at is None:
            raise ValidationError(_("This user's sending is not paused."), code=ErrorCode.INVALID)
        figures = {
            "paused_at": user.sending_paused_at.isoformat(),
            "paused_reason": user.sending_paused_reason,
        }
        user.sending_paused_at = None
        user.sending_paused_reason = ""
        user.save(update_fields=["sending_paused_at", "sending_paused_reason"])
        SendingDecision.objects.create(
            user=user,
            action=Action.RESUMED,
            actor=actor,
            reason=reason.strip(),
            figures=figures,
            created_at=now,
        )
    return user


def sending_block(*, actor: User, user: User, reason: str) -> User:
    """Block a (paused) owner after review: `accounts.services.user_block`, recorded as a sending decision
    with the figures it was taken on."""
    _require_reviewer(actor, user)
    form = BlockReasonForm(data={"reason": reason})
    if not form.is_valid():
        raise ValidationError(form.errors.as_data())
    with transaction.atomic():
        blocked = account_services.user_block(actor=actor, user=user, reason=form.cleaned_data["reason"])
        SendingDecision.objects.create(
            user=blocked,
            action=Action.BLOCKED,
            actor=actor,
            reason=form.cleaned_data["reason"],
            figures=limits.sender_figures(blocked.pk),
        )
    return blocked


def send_quota_set(*, actor: User, user: User, quota: int | None, reason: str = "") -> User:
    """Set a user's own daily quota (0: no limit), or with None go back to the default (R-DLV-5)."""
    _require_reviewer(actor, user)
    form = SendQuotaForm(data={"quota": "" if quota is None else quota, "reason": reason})
    if not form.is_valid():
        raise ValidationError(form.errors.as_data())
    quota = form.cleaned_data["quota"]
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        before = user.send_quota_daily
        user.send_quota_daily = quota
        user.save(update_fields=["send_quota_daily"])
        SendingDecision.objects.create(
            user=user,
            action=Action.QUOTA_CHANGED,
            actor=actor,
            reason=form.cleaned_data["reason"].strip(),
            figures={"from": before, "to": quota},
        )
    return user
