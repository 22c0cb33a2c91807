"""What the delivery log's rows need beyond their own columns, batched per level (`core.dataloaders`):
occurrences and their counts, and each delivery's attempts. Every batch starts from an owner-scoped
selector (`occurrences_for`, `attempts_for`), like the rows themselves."""

from collections import defaultdict

from backend.mailings import selectors
from backend.mailings.models import DeliveryAttempt, Occurrence

from ..core.dataloaders import DataLoader

# The attempt log reads oldest first, like any log.
ATTEMPT_ORDER = ("attempted_at", "id")


class OccurrenceByIdLoader(DataLoader[int, Occurrence | None]):
    def batch_load(self, keys: list[int]) -> list[Occurrence | None]:
        by_pk = {
            occurrence.pk: occurrence
            for occurrence in selectors.occurrences_for(self.user).filter(pk__in=keys)
        }
        return [by_pk.get(key) for key in keys]


class OccurrenceStatsLoader(DataLoader[int, Occurrence | None]):
    """Occurrences annotated with their deliveries per status and their first and last attempt times
    (`selectors.occurrences_with_stats`), one aggregate query for all the occurrences of a level."""

    def batch_load(self, keys: list[int]) -> list[Occurrence | None]:
        rows = selectors.occurrences_with_stats(self.user).select_related(None).filter(pk__in=keys)
        by_pk = {row.pk: row for row in rows}
        return [by_pk.get(key) for key in keys]


class AttemptsByDeliveryLoader(DataLoader[int, list[DeliveryAttempt]]):
    def batch_load(self, keys: list[int]) -> list[list[DeliveryAttempt]]:
        log: defaultdict[int, list[DeliveryAttempt]] = defaultdict(list)
        for attempt in (
            selectors.attempts_for(self.user).filter(delivery_id__in=keys).order_by(*ATTEMPT_ORDER)
        ):
            log[attempt.delivery_id].append(attempt)
        return [log[key] for key in keys]
