"""Writes on the delivery log: sending an occurrence's failed deliveries again."""

import graphene

from backend.accounts.models import User
from backend.mailings import selectors, services

from ..core.ids import pk_from_global_id
from ..core.mutations import BaseMutation
from .types import OccurrenceType


class RetryFailed(BaseMutation):
    """Queue the permanently failed and exhausted deliveries of one occurrence again, as a new attempt
    series (their earlier attempts stay in the log). The owner's own occurrences only: a manager is
    refused (FORBIDDEN); another owner's occurrence is NOT_FOUND. `errors` carries the domain's codes
    (`nothing_to_retry`, `mailing_disabled`, `owner_cannot_act`, ...)."""

    class Arguments:
        occurrence = graphene.ID(required=True)

    queued = graphene.Int(description="Deliveries queued again; null when refused.")
    occurrence = graphene.Field(
        OccurrenceType, description="The occurrence, with its counts after the retry."
    )

    @classmethod
    def perform(cls, info, user: User, occurrence: str):
        pk = pk_from_global_id(occurrence, "Occurrence")
        found = selectors.occurrences_for(user).get(pk=pk)
        queued = services.occurrence_retry_failed(actor=user, occurrence=found)
        fresh = selectors.occurrences_with_stats(user).select_related("mailing").get(pk=pk)
        return cls(queued=queued, occurrence=fresh, errors=[])
