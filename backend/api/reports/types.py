"""The delivery log and reports as GraphQL types (issue 10 §4, §8; R-DATA-4, R-SEND-4, R-UI-9).

Occurrence, Delivery and DeliveryAttempt nodes are read only through the owner-scoped selectors
(`occurrences_for`, `deliveries_for`, `attempts_for`); a manager sees every mailing's log (R-AUTH-5, decided
in `backend.mailings.selectors`). Per-occurrence counts come from `selectors.occurrences_with_stats`, one
aggregate query for a whole page; a delivery page loads its attempts and its occurrences' counts in one
query each (`prefetch_page`), so 5 and 100 deliveries cost the same number of queries.
"""

import graphene
from django.db.models import Prefetch, prefetch_related_objects
from graphene_django import DjangoObjectType
from graphql import FieldNode, FragmentSpreadNode, InlineFragmentNode

from backend.mailings import selectors
from backend.mailings.models import Delivery, DeliveryAttempt, Occurrence

from ..core.pagination import CountableConnection

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

# What `selectors.occurrences_with_stats` annotates: the five counts first, then the attempt times.
STAT_FIELDS = ("sent", "failed", "retrying", "pending", "skipped", "first_attempt_at", "last_attempt_at")
# The Occurrence fields that need those annotations.
OCCURRENCE_STAT_NAMES = (*STAT_FIELDS[:5], "total", "firstAttemptAt", "lastAttemptAt")


def _selections(info, selection_set, fragments, seen):
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            yield selection
        elif isinstance(selection, InlineFragmentNode):
            yield from _selections(info, selection.selection_set, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
            seen.add(selection.name.value)
            yield from _selections(info, fragments[selection.name.value].selection_set, fragments, seen)


def node_selects(info, *path: str) -> bool:
    """Does the connection's query ask for `edges { node { <path...> } }`? Lets a page load only what the
    query reads (the attempt log, an occurrence's counts)."""
    fields = list(info.field_nodes)
    for name in ("edges", "node", *path):
        fields = [
            child
            for field in fields
            if field.selection_set is not None
            for child in _selections(info, field.selection_set, info.fragments, set())
            if child.name.value == name
        ]
        if not fields:
            return False
    return True


def attach_occurrence_stats(occurrences: list[Occurrence], user) -> None:
    """Copy the counts of `occurrences` from one stats query onto the objects (for occurrences loaded
    without them, e.g. through `select_related`)."""
    missing: dict[int, list[Occurrence]] = {}
    for occurrence in occurrences:
        if not hasattr(occurrence, STAT_FIELDS[0]):
            missing.setdefault(occurrence.pk, []).append(occurrence)
    if not missing:
        return
    for row in selectors.occurrences_with_stats(user).filter(pk__in=list(missing)):
        for target in missing[row.pk]:
            for name in STAT_FIELDS:
                setattr(target, name, getattr(row, name))


class OccurrenceType(DjangoObjectType):
    """One firing of a mailing (scheduled, or a manual send now), with its deliveries counted by status."""

    mailing = graphene.Field("backend.api.mailings.types.MailingType", required=True)
    sent = graphene.Int(required=True, description="Deliveries the server accepted.")
    failed = graphene.Int(required=True, description="Deliveries that failed for good.")
    retrying = graphene.Int(required=True, description="Deliveries waiting for another attempt.")
    pending = graphene.Int(required=True, description="Deliveries not attempted yet.")
    skipped = graphene.Int(
        required=True, description="Deliveries not sent (unsubscribed, disabled mailing, blocked owner)."
    )
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

    @classmethod
    def prefetch_page(cls, nodes: list[Occurrence], info) -> None:
        attach_occurrence_stats(nodes, info.context.user)

    @staticmethod
    def resolve_mailing(root: Occurrence, info):
        return root.mailing

    @staticmethod
    def _stat(root: Occurrence, info, name: str):
        if not hasattr(root, name):
            attach_occurrence_stats([root], info.context.user)
        return getattr(root, name)

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
    def resolve_total(root, info):
        return sum(OccurrenceType._stat(root, info, name) for name in STAT_FIELDS[:5])

    @staticmethod
    def resolve_first_attempt_at(root, info):
        return OccurrenceType._stat(root, info, "first_attempt_at")

    @staticmethod
    def resolve_last_attempt_at(root, info):
        return OccurrenceType._stat(root, info, "last_attempt_at")


class DeliveryAttemptType(DjangoObjectType):
    """One SMTP attempt: when, what became of it, the server's code and answer (or the connection error)."""

    outcome = AttemptOutcome(required=True)

    class Meta:
        model = DeliveryAttempt
        name = "DeliveryAttempt"
        fields = ("id", "attempted_at", "smtp_code", "response")
        interfaces = (graphene.relay.Node,)
        connection_class = CountableConnection

    @classmethod
    def get_queryset(cls, queryset, info):
        return queryset.filter(pk__in=selectors.attempts_for(info.context.user).values("pk"))


# The attempt log reads oldest first, like any log.
ATTEMPT_ORDER = ("attempted_at", "id")


class DeliveryType(DjangoObjectType):
    """One recipient of one occurrence: the latest state; `attemptLog` holds every attempt (R-DATA-4)."""

    status = DeliveryStatus(required=True)
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
            "created_at",
        )
        interfaces = (graphene.relay.Node,)
        connection_class = CountableConnection

    @classmethod
    def get_queryset(cls, queryset, info):
        scoped = queryset.filter(pk__in=selectors.deliveries_for(info.context.user).values("pk"))
        return scoped.select_related("mailing", "occurrence")

    @classmethod
    def prefetch_page(cls, nodes: list[Delivery], info) -> None:
        if node_selects(info, "attemptLog"):
            attempts = DeliveryAttempt.objects.order_by(*ATTEMPT_ORDER)
            log = Prefetch("attempt_log", queryset=attempts, to_attr="attempt_list")
            prefetch_related_objects(nodes, log)
        if any(node_selects(info, "occurrence", name) for name in OCCURRENCE_STAT_NAMES):
            attach_occurrence_stats([node.occurrence for node in nodes], info.context.user)

    @staticmethod
    def resolve_mailing(root: Delivery, info):
        return root.mailing

    @staticmethod
    def resolve_occurrence(root: Delivery, info):
        return root.occurrence

    @staticmethod
    def resolve_attempt_log(root: Delivery, info):
        if hasattr(root, "attempt_list"):
            return root.attempt_list
        return list(root.attempt_log.order_by(*ATTEMPT_ORDER))
