"""Writes on mailings: create, edit, delete, a manager's disable and enable, and a send now.

Every change of the schedule recomputes the next due time (`scheduling.reschedule`); a send now creates
the manual occurrence and its deliveries (`scheduling.materialise`), and the engine sends them.
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from backend.accounts.models import User

from .. import answers, scheduling, selectors
from ..errors import ErrorCode
from ..forms import MailingForm
from ..models import Delivery, Mailing, Occurrence, Tag
from .base import (
    OPERATOR,
    FormInvalid,
    Operator,
    owner_for_create,
    require_can_disable,
    require_can_edit,
    require_may_be_sent,
    validated,
)


def _lock_chosen_tags(form: MailingForm) -> None:
    """Lock the tags the mailing is to send to, and refuse the form if one was deleted since it was checked:
    `tag_delete` takes the same lock, so it either sees this mailing among the tag's users (and refuses) or
    has deleted the tag first (and this answers as the form does for a choice that is not there)."""
    chosen = {tag.pk for tag in form.cleaned_data.get("tags") or ()}
    if not chosen:
        return
    there = set(Tag.objects.select_for_update().filter(pk__in=chosen).values_list("pk", flat=True))
    if there != chosen:
        form.add_error(
            "tags",
            ValidationError(
                _("A chosen tag was deleted meanwhile; choose the tags again."), code=ErrorCode.INVALID_CHOICE
            ),
        )
        raise FormInvalid(form)


def mailing_create(*, actor: User, data: dict, owner: User | None = None) -> Mailing:
    owner = owner_for_create(actor, owner)
    form = validated(MailingForm(data=data, owner=owner))
    with transaction.atomic():
        _lock_chosen_tags(form)
        mailing = form.save(commit=False)
        mailing.time_zone = owner.time_zone
        mailing.save()
        form.save_m2m()
        scheduling.reschedule(mailing)
    return mailing


def mailing_update(*, actor: User, mailing: Mailing, data: dict) -> Mailing:
    require_can_edit(actor, mailing)
    form = validated(MailingForm(data=data, instance=mailing, owner=mailing.owner))
    with transaction.atomic():
        _lock_chosen_tags(form)
        mailing = form.save()
        scheduling.reschedule(mailing)
    return mailing


def mailing_delete(*, actor: User, mailing: Mailing) -> None:
    require_can_edit(actor, mailing)
    with transaction.atomic():
        mailing.delete()


def mailing_pause(*, actor: User, mailing: Mailing) -> Mailing:
    """The owner's own stop (R-OWN-1): nothing more of the mailing is claimed from now on — sends already
    handed to the SMTP server finish — and what waits is kept for `mailing_resume`. Pausing twice is one
    pause."""
    require_can_edit(actor, mailing)
    with transaction.atomic():
        mailing = Mailing.objects.select_for_update().get(pk=mailing.pk)
        if mailing.paused_at is None:
            mailing.paused_at = timezone.now()
            mailing.save(update_fields=["paused_at", "updated_at"])
    return mailing


def mailing_resume(*, actor: User, mailing: Mailing) -> Mailing:
    """Undo `mailing_pause`: the waiting deliveries are claimed again (each was sent at most once, so no one
    gets it twice), and of the occurrences that fell in the pause only the current period's is sent, as after
    a manager's re-enable. A manager's disable stays: resuming does not enable a disabled mailing."""
    require_can_edit(actor, mailing)
    with transaction.atomic():
        mailing = Mailing.objects.select_for_update().get(pk=mailing.pk)
        if mailing.paused_at is not None:
            mailing.paused_at = None
            mailing.save(update_fields=["paused_at", "updated_at"])
            scheduling.reschedule(mailing)
    return mailing


def mailing_disable(*, actor: User, mailing: Mailing) -> Mailing:
    """A manager's switch (R-AUTH-5): a disabled mailing is never sent (R-SEND-8)."""
    require_can_disable(actor)
    with transaction.atomic():
        mailing = Mailing.objects.select_for_update().get(pk=mailing.pk)
        if mailing.is_active:
            mailing.is_active = False
            mailing.disabled_at = timezone.now()
            mailing.disabled_by = actor
            mailing.save(update_fields=["is_active", "disabled_at", "disabled_by", "updated_at"])
            # What was still waiting is dropped, not sent weeks later when someone re-enables it.
            mailing.deliveries.filter(status__in=Delivery.PENDING_STATUSES).update(
                status=Delivery.Status.SKIPPED,
                next_attempt_at=None,
                last_response=answers.DISABLED_BY_MANAGER,
            )
    return mailing


def mailing_enable(*, actor: User, mailing: Mailing) -> Mailing:
    require_can_disable(actor)
    with transaction.atomic():
        mailing = Mailing.objects.select_for_update().get(pk=mailing.pk)
        if not mailing.is_active:
            mailing.is_active = True
            mailing.disabled_at = None
            mailing.disabled_by = None
            mailing.save(update_fields=["is_active", "disabled_at", "disabled_by", "updated_at"])
            # Of the occurrences missed while disabled only the current period's is sent, not a backlog.
            scheduling.reschedule(mailing)
    return mailing


def mailing_check_send_now(*, actor: User | Operator, mailing: Mailing) -> None:
    """May `actor` send `mailing` now, outside its schedule? Raises PermissionDenied for the wrong actor and
    a ValidationError with an `ErrorCode` for the mailing's state. The dry-run asks this too, so it refuses
    exactly what a real send refuses. `actor=OPERATOR` is the command line (see `Operator`)."""
    if actor is not OPERATOR:
        require_can_edit(actor, mailing)
    if not selectors.sendable_mailings().filter(pk=mailing.pk).exists():
        require_may_be_sent(Mailing.objects.select_related("owner").get(pk=mailing.pk))
        raise ValidationError(
            _("This mailing is completed; move its end later to send it again."),
            code=ErrorCode.MAILING_COMPLETED,
        )
    if not selectors.recipients_of(mailing).exists():
        raise ValidationError(
            _("This mailing has no subscribed clients to send to."), code=ErrorCode.NO_RECIPIENTS
        )


def mailing_send_now(*, actor: User | Operator, mailing: Mailing) -> Occurrence:
    """Queue a manual occurrence of `mailing` for now (R-SEND-6): one delivery per recipient, sent by the
    scheduler's next pass (or at once by `send_mailing`); the schedule is left as it was. Nothing is sent
    here, so a page or an API call returns at once. A second request while a manual send of the mailing is
    still going is refused, so a double click never doubles a send."""
    with transaction.atomic():
        mailing = Mailing.objects.select_for_update().get(pk=mailing.pk)
        mailing_check_send_now(actor=actor, mailing=mailing)
        if mailing.occurrences.filter(is_manual=True, finished_at__isnull=True).exists():
            raise ValidationError(
                _("A manual send of this mailing is still in progress; wait until it finishes."),
                code=ErrorCode.SEND_IN_PROGRESS,
            )
        now = timezone.now()
        occurrence = Occurrence.objects.create(mailing=mailing, scheduled_for=now, is_manual=True)
        scheduling.materialise(occurrence, now)
        if mailing.status == Mailing.Status.CREATED:
            mailing.status = Mailing.Status.STARTED
            mailing.save(update_fields=["status", "updated_at"])
    return occurrence
