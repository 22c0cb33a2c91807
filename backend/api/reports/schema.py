"""Reads of the delivery log and reports: occurrences, deliveries, attempts, a mailing's
report, the owner's dashboard and the managers' service statistics.

Every id resolves through an owner-scoped selector, so another owner's id is NOT_FOUND exactly like a
missing one (R-AUTH-4). A manager oversees every mailing's occurrences and their counts (`occurrences_for`),
but not who a mailing went to: deliveries and attempts come from `deliveries_for` / `attempts_for`, which
show a manager only their own log (a delivery log lists the recipients' addresses, a client list by another
name; R-AUTH-5). Superusers read every log.
"""

import graphene

from backend.mailings import selectors

from ..core.auth import require_user
from ..core.ids import pk_from_global_id
from ..core.inputs import filter_args, filtered
from ..core.pagination import PageConnectionField
from .mutations import RetryFailed
from .types import (
    Dashboard,
    DeliveryAttemptType,
    DeliveryStatus,
    DeliveryType,
    MailingReport,
    OccurrenceType,
    ServiceStats,
    mailing_report,
)


class ReportsQuery(graphene.ObjectType):
    occurrences = PageConnectionField(
        OccurrenceType,
        mailing=graphene.ID(required=True),
        description="A mailing's occurrences, newest first, each with its deliveries counted by status.",
    )
    deliveries = PageConnectionField(
        DeliveryType,
        mailing=graphene.ID(),
        occurrence=graphene.ID(),
        status=DeliveryStatus(),
        description="The delivery log, newest first: one row per recipient and occurrence.",
    )
    attempts = PageConnectionField(
        DeliveryAttemptType,
        delivery=graphene.ID(required=True),
        description="Every SMTP attempt of one delivery, oldest first.",
    )
    mailing_report = graphene.Field(
        MailingReport,
        id=graphene.ID(required=True),
        required=True,
        description="Per-occurrence counts and attempt times of one mailing, oldest first: a chart's data.",
    )
    dashboard = graphene.Field(Dashboard, required=True, description="The signed-in owner's totals.")
    service_stats = graphene.Field(
        ServiceStats,
        required=True,
        description="Service-wide figures for managers; others get FORBIDDEN. Days are the viewer's.",
    )

    @staticmethod
    def resolve_occurrences(root, info, mailing: str, **_page):
        user = require_user(info)
        found = selectors.mailing_get(user, pk_from_global_id(mailing, "Mailing"))
        # Plain rows: the page's counts come from one stats query over its own occurrences
        # (OccurrenceStatsLoader). Counted and paged with the stats, every page and its totalCount
        # aggregated the mailing's whole delivery log.
        occurrences = filtered(selectors.occurrence_list(user, {"mailing": found.pk}))
        return occurrences.order_by("-scheduled_for", "-pk")

    @staticmethod
    def resolve_deliveries(root, info, mailing=None, occurrence=None, status=None, **_page):
        user = require_user(info)
        chosen, sends = {}, []
        if mailing is not None:
            chosen["mailing"] = selectors.mailing_get(user, pk_from_global_id(mailing, "Mailing")).pk
        if occurrence is not None:
            pk = pk_from_global_id(occurrence, "Occurrence")
            chosen["occurrence"] = selectors.occurrences_for(user).get(pk=pk).pk
            sends = [(chosen["occurrence"], occurrence)]
        found = selectors.delivery_list(user, filter_args(status=status, **chosen), occurrences=sends)
        return filtered(found)

    @staticmethod
    def resolve_attempts(root, info, delivery: str, **_page):
        user = require_user(info)
        found = selectors.deliveries_for(user).get(pk=pk_from_global_id(delivery, "Delivery"))
        attempts = filtered(selectors.attempt_list(user, {"delivery": found.pk}))
        return attempts.order_by("attempted_at", "id")

    @staticmethod
    def resolve_mailing_report(root, info, id: str):
        user = require_user(info)
        return mailing_report(user, selectors.mailing_get(user, pk_from_global_id(id, "Mailing")))

    @staticmethod
    def resolve_dashboard(root, info):
        return selectors.owner_dashboard(require_user(info))

    @staticmethod
    def resolve_service_stats(root, info):
        user = require_user(info)
        return selectors.service_stats(user, tz=user.tz)


class ReportsMutation(graphene.ObjectType):
    retry_failed = RetryFailed.Field()
