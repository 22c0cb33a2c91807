"""Sending quotas (R-DLV-5): how many messages an owner may hand to the SMTP server per day, how many they
have today, and what a mailing's save is told about it; and the reads of the senders' review (an owner's
recent bounce and complaint figures, the paused senders waiting for a manager). One place, read by the
engine's claim (`sending.queue`), the pages, the API and the managers' services.

The day is the owner's own calendar day, in the time zone of their profile (`User.tz`): "200 a day" means
until their midnight, which is what an owner reading their dashboard expects. What the quota keeps back waits
as a pending delivery due at the start of the owner's next day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import F, Max, Q
from django.db.models.functions import Greatest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from backend.accounts import roles
from backend.accounts.models import SendingDecision, User

from . import selectors
from .models import Bounce, Delivery, Mailing, SendQuotaDay


def daily_quota(user: User, now: dt.datetime | None = None) -> int | None:
    """Messages `user` may hand to the server per day; None: no limit. The user's own quota when a manager
    set one (0 there also means no limit), else SEND_QUOTA_NEW_ACCOUNT_DAILY while the account is younger
    than SEND_QUOTA_NEW_ACCOUNT_DAYS, else SEND_QUOTA_DAILY (0: no limit)."""
    if user.send_quota_daily is not None:
        return user.send_quota_daily or None
    now = now or timezone.now()
    young = now - user.date_joined < dt.timedelta(days=settings.SEND_QUOTA_NEW_ACCOUNT_DAYS)
    if young and settings.SEND_QUOTA_NEW_ACCOUNT_DAILY:
        default = settings.SEND_QUOTA_DAILY
        new = settings.SEND_QUOTA_NEW_ACCOUNT_DAILY
        return min(new, default) if default else new
    return settings.SEND_QUOTA_DAILY or None


def quota_day(user: User, now: dt.datetime | None = None) -> dt.date:
    """The owner's calendar day at `now`, in their time zone: the day their count belongs to."""
    return (now or timezone.now()).astimezone(user.tz).date()


def next_day_start(user: User, now: dt.datetime | None = None) -> dt.datetime:
    """The owner's next midnight (as an aware UTC time): when what their quota kept back is due again."""
    tomorrow = quota_day(user, now) + dt.timedelta(days=1)
    local = dt.datetime.combine(tomorrow, dt.time(), tzinfo=user.tz)
    return local.astimezone(dt.UTC)


def sent_today(user: User, now: dt.datetime | None = None) -> int:
    """Messages handed to the server for `user` on their current day."""
    row = SendQuotaDay.objects.filter(owner_id=user.pk, day=quota_day(user, now)).values("handed").first()
    return row["handed"] if row else 0


def sent_today_of(users: Iterable[User], now: dt.datetime | None = None) -> dict[int, int]:
    """`sent_today` of many users in one query (a list of users), by primary key."""
    days = {user.pk: quota_day(user, now) for user in users}
    if not days:
        return {}
    rows = SendQuotaDay.objects.filter(owner_id__in=days, day__in=set(days.values())).values_list(
        "owner_id", "day", "handed"
    )
    found = {owner_id: handed for owner_id, day, handed in rows if days[owner_id] == day}
    return {pk: found.get(pk, 0) for pk in days}


def quota_left(user: User, now: dt.datetime | None = None) -> int | None:
    """What `user` may still hand to the server today; None: no limit."""
    quota = daily_quota(user, now)
    return None if quota is None else max(0, quota - sent_today(user, now))


@dataclass(frozen=True)
class Allowance:
    """What one claim may send of one owner's deliveries, and on which day's count."""

    allowed: int
    day: dt.date
    resumes_at: dt.datetime  # the owner's next midnight: when the rest is due again


def take_quota(wanted: dict[int, int], now: dt.datetime) -> dict[int, Allowance]:
    """Count up to `wanted[owner]` messages on each owner's count of today and return how many each may send.
    Must run in the claim's transaction: each owner's row is locked (FOR UPDATE, in owner order so two
    claims never wait on each other crosswise; SQLite's one writer serialises them anyway) from the read to
    the end of the transaction, so passes on any number of hosts never hand more than the quota between
    them."""
    owners = {
        user.pk: user
        for user in User.objects.filter(pk__in=wanted).only(
            "pk", "date_joined", "send_quota_daily", "time_zone"
        )
    }
    days = {pk: quota_day(user, now) for pk, user in owners.items()}
    SendQuotaDay.objects.bulk_create(
        [SendQuotaDay(owner_id=pk, day=days[pk]) for pk in sorted(days)], ignore_conflicts=True
    )
    where = Q()
    for pk, day in days.items():
        where |= Q(owner_id=pk, day=day)
    counts = SendQuotaDay.objects.filter(where).select_for_update().order_by("owner_id")
    result: dict[int, Allowance] = {}
    for row in counts:
        user = owners[row.owner_id]
        quota = daily_quota(user, now)
        want = wanted[row.owner_id]
        allowed = want if quota is None else max(0, min(want, quota - row.handed))
        if allowed:
            SendQuotaDay.objects.filter(pk=row.pk).update(handed=F("handed") + allowed)
        result[row.owner_id] = Allowance(allowed, row.day, next_day_start(user, now))
    return result


def give_back(owner_id: int, day: dt.date, count: int) -> None:
    """Deliveries counted on `day` and given back untried (the breaker opened, the pass is stopping) do not
    use the quota: they are counted again when they are claimed again."""
    if count:
        SendQuotaDay.objects.filter(owner_id=owner_id, day=day).update(
            handed=Greatest(F("handed") - count, 0)
        )


# --- what an owner is told ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuotaStatus:
    """An owner's quota as their dashboard and the API show it."""

    quota: int | None  # effective; None: no limit
    override: int | None  # set by a manager; None: the default applies
    sent_today: int
    left: int | None
    resets_at: dt.datetime


def quota_status(user: User, now: dt.datetime | None = None) -> QuotaStatus:
    now = now or timezone.now()
    quota = daily_quota(user, now)
    used = sent_today(user, now)
    return QuotaStatus(
        quota=quota,
        override=user.send_quota_daily,
        sent_today=used,
        left=None if quota is None else max(0, quota - used),
        resets_at=next_day_start(user, now),
    )


def paused_text() -> str:
    return _("Sending is paused for your account while a manager reviews it; nothing is sent until then.")


def quota_notice(mailing: Mailing, *, now: dt.datetime | None = None, sending_now: bool = False) -> str:
    """What saving (or sending now) `mailing` should tell its owner about their quota, or "" when nothing:
    sending is paused; its audience is larger than the daily quota (the rest goes on the following days); or
    its send falls on today and is larger than what is left of today's quota (the rest waits until
    tomorrow). Never a refusal: the engine keeps to the quota whatever is saved."""
    now = now or timezone.now()
    owner = mailing.owner
    if owner.sending_paused_at is not None:
        return paused_text()
    quota = daily_quota(owner, now)
    if quota is None:
        return ""
    size = selectors.audience_size(mailing)
    if size > quota:
        return ngettext(
            "This mailing goes to %(size)s clients, more than your daily sending quota of %(quota)s "
            "message: %(quota)s go out per day and the rest waits for the following days.",
            "This mailing goes to %(size)s clients, more than your daily sending quota of %(quota)s "
            "messages: %(quota)s go out per day and the rest waits for the following days.",
            quota,
        ) % {"size": size, "quota": quota}
    today = sending_now or (
        mailing.next_run_at is not None and mailing.next_run_at < next_day_start(owner, now)
    )
    left = max(0, quota - sent_today(owner, now))
    if today and size > left:
        return ngettext(
            "This send goes to %(size)s clients and %(left)s message is left of today's sending quota "
            "(%(quota)s a day): the rest waits until tomorrow.",
            "This send goes to %(size)s clients and %(left)s messages are left of today's sending quota "
            "(%(quota)s a day): the rest waits until tomorrow.",
            left,
        ) % {"size": size, "left": left, "quota": quota}
    return ""


# --- the review of senders: their figures, and who waits for a manager -----------------------------------


def _since(user_id: int, now: dt.datetime) -> dt.datetime:
    """Where an owner's window starts: SEND_REVIEW_DAYS ago, or their last resume if later."""
    since = now - dt.timedelta(days=settings.SEND_REVIEW_DAYS)
    resumed = SendingDecision.objects.filter(
        user_id=user_id, action=SendingDecision.Action.RESUMED
    ).aggregate(at=Max("created_at"))["at"]
    return max(since, resumed) if resumed else since


def sender_figures(user_id: int, now: dt.datetime | None = None) -> dict:
    """An owner's recent sends, bounces and complaints, and their rates (0 with nothing sent)."""
    now = now or timezone.now()
    since = _since(user_id, now)
    window = list(
        Delivery.objects.filter(mailing__owner_id=user_id, sent_at__gte=since, sent_at__lte=now)
        .order_by("-sent_at", "-pk")
        .values_list("pk", "bounced_at")[: settings.SEND_REVIEW_WINDOW]
    )
    ids = [pk for pk, _bounced in window]
    bounces = Bounce.objects.filter(delivery_id__in=ids)
    hard = set(bounces.filter(kind=Bounce.Kind.HARD).values_list("delivery_id", flat=True))
    bounced = len({pk for pk, bounced_at in window if bounced_at is not None} | hard)
    complaints = bounces.filter(kind=Bounce.Kind.COMPLAINT).values("delivery_id").distinct().count()
    sent = len(window)
    return {
        "sent": sent,
        "bounced": bounced,
        "complaints": complaints,
        "bounce_rate": round(bounced / sent, 4) if sent else 0.0,
        "complaint_rate": round(complaints / sent, 4) if sent else 0.0,
        "since": since.isoformat(),
    }


def needs_review(actor: User) -> list[tuple[User, SendingDecision | None]]:
    """Owners whose sending is paused and who are not blocked, longest waiting first, each with the decision
    that paused them (its figures); PermissionDenied for those who may not review senders."""
    if not roles.may_block_users(actor):
        raise PermissionDenied(_("Only managers can review senders and change quotas."))
    users = list(
        User.objects.filter(sending_paused_at__isnull=False, is_blocked=False).order_by(
            "sending_paused_at", "pk"
        )
    )
    decisions: dict[int, SendingDecision] = {}
    paused = SendingDecision.objects.filter(
        user__in=users, action=SendingDecision.Action.PAUSED
    ).select_related("actor")
    for decision in paused.order_by("user_id", "-created_at", "-pk"):
        decisions.setdefault(decision.user_id, decision)
    return [(user, decisions.get(user.pk)) for user in users]
