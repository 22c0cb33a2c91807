"""Retrying an occurrence's failed deliveries: queued again for the engine's next pass."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from backend.accounts.models import User

from .. import scheduling, selectors
from ..errors import ErrorCode
from ..models import Delivery, Mailing, Occurrence
from .base import require_can_edit, require_may_be_sent


def occurrence_retry_failed(*, actor: User, occurrence: Occurrence) -> int:
    """Queue the failed deliveries of `occurrence` (permanent failures and exhausted retries) again as a
    new attempt series and return how many: each is pending now with its attempts counter at 0, while its
    attempt log keeps the earlier attempts. Only clients that are still recipients of the mailing are
    retried (`recipients_of`: not unsubscribed, deleted or removed since); skipped deliveries never are.

    The occurrence is reopened and a completed mailing is marked started again, so the engine's next pass
    claims the deliveries (it only sends for `sendable_mailings`) and its finish step completes both again
    when they are final. Nothing is sent here. Owner or superuser only (R-AUTH-4/5); refused for a
    disabled mailing or a blocked owner like a send now; a second call finds nothing left to retry.
    """
    with transaction.atomic():
        mailing = Mailing.objects.select_for_update().select_related("owner").get(pk=occurrence.mailing_id)
        require_can_edit(actor, mailing)
        require_may_be_sent(mailing)
        # The same row lock the retention purge takes: a send whose log it has begun to delete is not
        # reopened (its totals would be counted again from what is left), and one reopened here is skipped.
        if Occurrence.objects.select_for_update().get(pk=occurrence.pk).log_purged_at is not None:
            raise ValidationError(
                _(
                    "This send's per-recipient log has been deleted (it is older than the log is kept); "
                    "its failed deliveries can no longer be retried."
                ),
                code=ErrorCode.LOG_PURGED,
            )
        failed = Delivery.objects.filter(
            occurrence_id=occurrence.pk,
            status=Delivery.Status.FAILED,
            client__in=selectors.recipients_of(mailing).values("pk"),
        )
        now = timezone.now()
        count = failed.update(
            status=Delivery.Status.PENDING,
            attempts=0,
            next_attempt_at=now,
            claim_token="",
        )
        if not count:
            raise ValidationError(
                _("This send has no failed deliveries to retry."), code=ErrorCode.NOTHING_TO_RETRY
            )
        Occurrence.objects.filter(pk=occurrence.pk).update(finished_at=None, **scheduling.NO_TOTALS)
        if mailing.status == Mailing.Status.COMPLETED:
            mailing.status = Mailing.Status.STARTED
            mailing.save(update_fields=["status", "updated_at"])
    return count
