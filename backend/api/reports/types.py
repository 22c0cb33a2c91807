"""The delivery log and reports as GraphQL types (R-DATA-4, R-SEND-4, R-UI-9).

Occurrence, Delivery and DeliveryAttempt nodes are read only through the owner-scoped selectors
(`occurrences_for`, `deliveries_for`, `attempts_for`): a manager sees every mailing's occurrences and counts
but no delivery or attempt, which would list the recipients (R-AUTH-5, decided in
`backend.mailings.selectors`). Per-occurrence counts come from `selectors.occurrences_with_stats`, one
aggregate query for all the occurrences of a level; what a row needs beyond its columns (its mailing, its
occurrence and their counts, its attempts) comes from the operation's loaders (`dataloaders`), one query
per level, so 5 and 100 deliveries cost the same number of queries.
"""

import graphene
from graphene.utils.str_converters import to_camel_case

from backend.accounts import roles
from backend.mailings import selectors
from backend.mailings.models import Delivery, DeliveryAttempt, Occurrence
from backend.mailings.tracking.report import Engagement as EngagementData
from backend.mailings.tracking.report import engagement_of

from ..core.dataloaders import Deferred
from ..core.pagination import CountableConnection
from ..core.selection import selected
from ..core.types import ModelType
from ..mailings.dataloaders import MailingByIdLoader
from .dataloaders import AttemptsByDeliveryLoader, OccurrenceByIdLoader, OccurrenceStatsLoader

DeliveryStatus = graphene.Enum.from_enum(
    Delivery.Status,
    name="DeliveryStatus",
    description=lambda member: str(member.label) if member else "Where a delivery stands.",
)
AttemptOutcome = graphene.Enum.from_enum(
    DeliveryAttempt.Outcome,
    name="AttemptOutcome",
    description=lambda member: str(member.label) if member else "What the mail server made of one attempt.",
)

# GraphQL field -> what `selectors.occurrences_with_stats` annotates.
STATS = {
    "sent": "sent_count",
    "failed": "failed_count",
    "retrying": "retrying_count",
    "pending": "pending_count",
    "skipped": "skipped_count",
    "waiting": "waiting_count",
    "total": "deliveries_count",
    "first_attempt_at": "first_attempt_at",
    "last_attempt_at": "last_attempt_at",
}
COUNTS = ("sent", "failed", "retrying", "pending", "skipped")
_STATS_BY_NAME = {to_camel_case(field): annotation for field, annotation in STATS.items()}
# The fields that are counts of deliveries, and what they read (`occurrence_totals`).
COUNT_STATS = {
    name: annotation for name, annotation in _STATS_BY_NAME.items() if annotation.endswith("_count")
}


def stats_selected(info) -> frozenset[str]:
    """The `STATS` annotations an `Occurrence` field being resolved selects (what a loader must read)."""
    return frozenset(_STATS_BY_NAME[name] for name in selected(info) if name in _STATS_BY_NAME)


class OccurrenceType(ModelType):
    """One firing of a mailing (scheduled, or a manual send now), with its deliveries counted by status."""

    mailing = graphene.Field("backend.api.mailings.types.MailingType", required=True)
    sent = graphene.Int(required=True, description="Deliveries the server accepted.")
    failed = graphene.Int(required=True, description="Deliveries that failed for good.")
    retrying = graphene.Int(required=True, description="Deliveries waiting for another attempt.")
    pending = graphene.Int(required=True, description="Deliveries not attempted yet.")
    skipped = graphene.Int(
        required=True, description="Deliveries not sent (unsubscribed, disabled mailing, blocked owner)."
    )
    waiting = graphene.Int(required=True, description="Deliveries still to be sent: pending + retrying.")
    total = graphene.Int(required=True, description="All deliveries of this occurrence.")
    first_attempt_at = graphene.DateTime(description="The first SMTP attempt; null before any.")
    last_attempt_at = graphene.DateTime(description="The latest SMTP attempt; null before any.")

    class Meta:
        model = Occurrence
        name = "Occurrence"
        fields = ("id", "scheduled_for", "is_manual", "created_at", "finished_at")
        interfaces = (graphene.relay.Node,)
        connection_class = CountableConnection

    @classmethod
    def get_queryset(cls, queryset, info):
        return queryset.filter(pk__in=selectors.occurrences_for(info.context.user).values("pk"))

    @staticmethod
    def resolve_mailing(root: Occurrence, info):
        if Occurrence.mailing.is_cached(root):  # a report's or a mailing's own occurrence
            return root.mailing
        return MailingByIdLoader.of(info).load(root.mailing_id)

    @staticmethod
    def _stat(root: Occurrence, info, field: str):
        name = STATS[field]
        if hasattr(root, name):  # loaded with its counts (occurrences_with_stats)
            return getattr(root, name)
        return OccurrenceStatsLoader.of(info).load(root.pk).then(lambda row: getattr(row, name))

    @staticmethod
    def resolve_sent(root, info):
        return OccurrenceType._stat(root, info, "sent")

    @staticmethod
    def resolve_failed(root, info):
        return OccurrenceType._stat(root, info, "failed")

    @staticmethod
    def resolve_retrying(root, info):
        return OccurrenceType._stat(root, info, "retrying")

    @staticmethod
    def resolve_pending(root, info):
        return OccurrenceType._stat(root, info, "pending")

    @staticmethod
    def resolve_skipped(root, info):
        return OccurrenceType._stat(root, info, "skipped")

    @staticmethod
    def resolve_waiting(root, info):
        return OccurrenceType._stat(root, info, "waiting")

    @staticmethod
    def resolve_total(root, info):
        return OccurrenceType._stat(root, info, "total")

    @staticmethod
    def resolve_first_attempt_at(root, info):
        return OccurrenceType._stat(root, info, "first_attempt_at")

    @staticmethod
    def resolve_last_attempt_at(root, info):
        return OccurrenceType._stat(root, info, "last_attempt_at")


RAW_ANSWER = (
    " Superusers only: it names relays and internal hosts, so it is null for everyone else, who read "
    "`summary`."
)
SUMMARY = (
    "What the server's answer means, as one short sentence in the reader's language (\"the recipient's "
    'address was refused", "could not connect to the mail server", "the mail server timed out"…)'
)


def _raw_answer(text: str, info) -> str | None:
    return text if roles.sees_relay_answers(info.context.user) else None


class DeliveryAttemptType(ModelType):
    """One SMTP attempt: when, what became of it, the server's code, and what its answer (or the connection
    error) means; the answer's own text for superusers."""

    outcome = AttemptOutcome(required=True)
    response = graphene.String(
        description="The server's answer or the connection error, as received." + RAW_ANSWER
    )
    summary = graphene.String(required=True, description=SUMMARY + ".")

    class Meta:
        model = DeliveryAttempt
        name = "DeliveryAttempt"
        fields = ("id", "attempted_at", "smtp_code", "response")
        interfaces = (graphene.relay.Node,)
        connection_class = CountableConnection

    @classmethod
    def get_queryset(cls, queryset, info):
        return queryset.filter(pk__in=selectors.attempts_for(info.context.user).values("pk"))

    @staticmethod
    def resolve_response(root: DeliveryAttempt, info) -> str | None:
        return _raw_answer(root.response, info)


class DeliveryType(ModelType):
    """One recipient of one occurrence: the latest state; `attemptLog` holds every attempt (R-DATA-4)."""

    status = DeliveryStatus(required=True)
    last_response = graphene.String(
        description="The latest attempt's answer as received, its SMTP code first." + RAW_ANSWER
    )
    summary = graphene.String(
        required=True, description=SUMMARY + " of the latest attempt; empty before the first attempt."
    )
    mailing = graphene.Field("backend.api.mailings.types.MailingType", required=True)
    occurrence = graphene.Field(OccurrenceType, required=True)
    attempt_log = graphene.List(
        graphene.NonNull(DeliveryAttemptType),
        required=True,
        description="Every SMTP attempt of this delivery, oldest first.",
    )

    class Meta:
        model = Delivery
        name = "Delivery"
        fields = (
            "id",
            "email",
            "attempts",
            "last_attempt_at",
            "next_attempt_at",
            "last_response",
            "sent_at",
            "bounced_at",
            "created_at",
        )
        interfaces = (graphene.relay.Node,)
        connection_class = CountableConnection

    @classmethod
    def get_queryset(cls, queryset, info):
        # Plain rows: a delivery's mailing and occurrence come from the loaders, once per mailing or
        # occurrence rather than joined to every row.
        scoped = queryset.filter(pk__in=selectors.deliveries_for(info.context.user).values("pk"))
        return scoped.select_related(None)

    @staticmethod
    def resolve_last_response(root: Delivery, info) -> str | None:
        return _raw_answer(root.last_response, info)

    @staticmethod
    def resolve_mailing(root: Delivery, info) -> Deferred:
        return MailingByIdLoader.of(info).load(root.mailing_id)

    @staticmethod
    def resolve_occurrence(root: Delivery, info) -> Deferred:
        return OccurrenceByIdLoader.of(info).load(root.occurrence_id)

    @staticmethod
    def resolve_attempt_log(root: Delivery, info) -> Deferred:
        return AttemptsByDeliveryLoader.of(info).load(root.pk)


class ReportTotals(graphene.ObjectType):
    """A mailing's counts over all its occurrences."""

    occurrences = graphene.Int(required=True)
    sent = graphene.Int(required=True)
    failed = graphene.Int(required=True)
    retrying = graphene.Int(required=True)
    pending = graphene.Int(required=True)
    skipped = graphene.Int(required=True)
    total = graphene.Int(required=True, description="All deliveries.")
    first_attempt_at = graphene.DateTime()
    last_attempt_at = graphene.DateTime()


class LinkClicks(graphene.ObjectType):
    """Clicks by people on one tracked link (R-ENG-2)."""

    url = graphene.String(required=True, description="Where the link leads.")
    clicks = graphene.Int(required=True, description="Clicks by people.")
    clickers = graphene.Int(required=True, description="Deliveries whose recipient clicked it (unique).")


class Engagement(graphene.ObjectType):
    """Opens and clicks of one send or of a whole mailing (R-ENG-2). Machine opens (privacy proxies,
    security scanners, anything within a second or two of sending) are counted apart and left out of the
    rest; see docs/tracking.md."""

    sent = graphene.Int(required=True, description="Messages the server accepted.")
    opened = graphene.Int(required=True, description="Deliveries opened by a person (unique opens).")
    machine_opened = graphene.Int(required=True, description="Deliveries opened by a machine.")
    clicked = graphene.Int(required=True, description="Deliveries with a click by a person (unique).")
    clicks = graphene.Int(required=True, description="Clicks by people.")
    open_rate = graphene.Float(description="opened / sent; null before anything was sent.")
    click_rate = graphene.Float(description="clicked / sent (click-through rate); null before any send.")
    links = graphene.List(graphene.NonNull(LinkClicks), required=True, description="Most clicked first.")
    open_curve = graphene.List(
        graphene.NonNull(graphene.Int),
        required=True,
        description="Opens by people per hour after the send's scheduled moment: 48 numbers.",
    )
    click_curve = graphene.List(
        graphene.NonNull(graphene.Int), required=True, description="Clicks by people per hour: 48 numbers."
    )


class OccurrenceEngagement(graphene.ObjectType):
    occurrence = graphene.Field(OccurrenceType, required=True)
    engagement = graphene.Field(Engagement, required=True)


class MailingReport(graphene.ObjectType):
    """What a report page and its chart need, in one query (R-UI-2, R-UI-9, R-ENG-2)."""

    mailing = graphene.Field("backend.api.mailings.types.MailingType", required=True)
    occurrences = graphene.List(
        graphene.NonNull(OccurrenceType), required=True, description="Oldest first, each with its counts."
    )
    totals = graphene.Field(ReportTotals, required=True)
    engagement = graphene.Field(Engagement, required=True, description="Opens and clicks of every send.")
    occurrence_engagement = graphene.List(
        graphene.NonNull(OccurrenceEngagement),
        required=True,
        description="Opens and clicks per send, oldest first.",
    )


def mailing_report(user, mailing) -> MailingReport:
    """The report of a `mailing` the caller may see: its occurrences' counts from one stats query, and
    their sums."""
    occurrences = list(
        selectors.occurrences_with_stats(user, mailing=mailing).order_by("scheduled_for", "pk")
    )
    for occurrence in occurrences:
        occurrence.mailing = mailing
    counts = {field: sum(getattr(occ, STATS[field]) for occ in occurrences) for field in COUNTS}
    firsts = [occ.first_attempt_at for occ in occurrences if occ.first_attempt_at is not None]
    lasts = [occ.last_attempt_at for occ in occurrences if occ.last_attempt_at is not None]
    totals = ReportTotals(
        occurrences=len(occurrences),
        total=sum(counts.values()),
        first_attempt_at=min(firsts, default=None),
        last_attempt_at=max(lasts, default=None),
        **counts,
    )
    engagement, per_send = engagement_of(mailing, {occ.pk: occ.sent_count for occ in occurrences})
    return MailingReport(
        mailing=mailing,
        occurrences=occurrences,
        totals=totals,
        engagement=engagement,
        occurrence_engagement=[
            OccurrenceEngagement(occurrence=occ, engagement=per_send.get(occ.pk) or EngagementData(sent=0))
            for occ in occurrences
        ],
    )


class UpcomingSend(graphene.ObjectType):
    mailing = graphene.Field("backend.api.mailings.types.MailingType", required=True)
    next_run_at = graphene.DateTime(required=True)


class Dashboard(graphene.ObjectType):
    """The signed-in user's own totals (`selectors.owner_dashboard`): their clients, messages, mailings and
    deliveries only, whatever their role."""

    clients = graphene.Int(required=True)
    subscribed_clients = graphene.Int(required=True)
    messages = graphene.Int(required=True)
    mailings = graphene.Int(required=True)
    mailings_created = graphene.Int(required=True)
    mailings_started = graphene.Int(required=True)
    mailings_completed = graphene.Int(required=True)
    active_mailings = graphene.Int(required=True, description="Started and not disabled.")
    sent = graphene.Int(required=True, description="Deliveries the server accepted, all time.")
    failed = graphene.Int(required=True, description="Deliveries that failed for good, all time.")
    next_sends = graphene.List(
        graphene.NonNull(UpcomingSend), required=True, description="Up to 5, soonest first."
    )
    recent_failures = graphene.List(
        graphene.NonNull(DeliveryType),
        required=True,
        description="Up to 10 failed deliveries of the last 7 days, newest first.",
    )


class DayStats(graphene.ObjectType):
    date = graphene.Date(required=True, description="A calendar day in the viewer's time zone.")
    sent = graphene.Int(required=True, description="Attempts the server accepted.")
    failed = graphene.Int(required=True, description="Attempts that failed (temporarily or for good).")

    @staticmethod
    def resolve_date(root, info):
        return root.day


class ServiceStats(graphene.ObjectType):
    """The whole service at a glance, for managers (`selectors.service_stats`, R-UI-8). Sends and failures
    count SMTP attempts; days are the viewer's calendar days."""

    users = graphene.Int(required=True)
    verified_users = graphene.Int(required=True)
    blocked_users = graphene.Int(required=True)
    mailings = graphene.Int(required=True)
    mailings_created = graphene.Int(required=True)
    mailings_started = graphene.Int(required=True)
    mailings_completed = graphene.Int(required=True)
    active_mailings = graphene.Int(required=True, description="Started and not disabled.")
    sent_today = graphene.Int(required=True)
    failed_today = graphene.Int(required=True)
    per_day = graphene.List(
        graphene.NonNull(DayStats), required=True, description="The last 30 days, oldest first, today last."
    )
