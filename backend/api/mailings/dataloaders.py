"""What mailings need beyond their own rows, batched per level (`core.dataloaders`).

Every batch starts from what the caller may see: mailings from `mailings_for`, and the clients a caller may
list are `clients_for`, the tags `tags_for` (a manager's are empty: R-AUTH-5).
"""

from dataclasses import dataclass

from django.db.models import Count, OuterRef, Q, Subquery

from backend.mailings import selectors
from backend.mailings.models import ClientTag, Mailing, Occurrence, SenderIdentity, Tag

from ..core.dataloaders import DataLoader

ATTEMPT_TIMES = frozenset({"first_attempt_at", "last_attempt_at"})


@dataclass(frozen=True)
class ClientCounts:
    total: int = 0  # every client the mailing is addressed to
    visible: int = 0  # of those, the ones the caller may list (clients_for)


class MailingByIdLoader(DataLoader[int, Mailing | None]):
    """Mailings with their message's subject and their owner, None for one the caller may not see."""

    def batch_load(self, keys: list[int]) -> list[Mailing | None]:
        found = (
            selectors.mailings_for(self.user).filter(pk__in=keys).defer("message__body", "message__html_body")
        )
        by_pk = {mailing.pk: mailing for mailing in found}
        return [by_pk.get(key) for key in keys]


class ClientCountsByMailingLoader(DataLoader[int, ClientCounts]):
    def batch_load(self, keys: list[int]) -> list[ClientCounts]:
        through = Mailing.clients.through
        visible = selectors.clients_for(self.user).values("pk")
        rows = (
            through.objects.filter(mailing_id__in=keys)
            .values("mailing_id")
            .annotate(total=Count("pk"), visible=Count("pk", filter=Q(client_id__in=visible)))
            .order_by()
        )
        counts = {row["mailing_id"]: ClientCounts(row["total"], row["visible"]) for row in rows}
        return [counts.get(key, ClientCounts()) for key in keys]


class LastOccurrenceByMailingLoader(DataLoader[int, Occurrence | None]):
    """Each mailing's latest occurrence, annotated with its counts and attempt times
    (`selectors.occurrences_with_stats`, what the `Occurrence` type reads). The variant names the
    annotations to read, those the query selects (None: all): each is a subquery, and the first and last
    attempt times read the attempt log, most of the query's cost, which a list of mailings rarely shows.
    A count left out is loaded by the `Occurrence` type itself if something asks for it after all."""

    def batch_load(self, keys: list[int]) -> list[Occurrence | None]:
        wanted = self.variant
        times = wanted is None or not wanted.isdisjoint(ATTEMPT_TIMES)
        latest = (
            Occurrence.objects.filter(mailing_id=OuterRef("pk"))
            .order_by("-scheduled_for", "-pk")
            .values("pk")[:1]
        )
        latest_ids = Mailing.objects.filter(pk__in=keys).annotate(last=Subquery(latest)).values("last")
        occurrences = (
            selectors.occurrences_with_stats(
                self.user, attempt_times=times, counts=None if wanted is None else wanted - ATTEMPT_TIMES
            )
            .select_related(None)
            .filter(pk__in=latest_ids)
        )
        by_mailing = {occurrence.mailing_id: occurrence for occurrence in occurrences}
        return [by_mailing.get(key) for key in keys]


class TagSizeLoader(DataLoader[int, int]):
    """How many clients carry each tag (a tag the `tags` list did not annotate with its size)."""

    def batch_load(self, keys: list[int]) -> list[int]:
        rows = (
            ClientTag.objects.filter(tag_id__in=keys, tag__in=selectors.tags_for(self.user).values("pk"))
            .order_by()
            .values("tag_id")
            .annotate(n=Count("pk"))
        )
        sizes = {row["tag_id"]: row["n"] for row in rows}
        return [sizes.get(key, 0) for key in keys]


def _tags_by(through, column: str, keys: list[int], user) -> list[list[Tag]]:
    """The tags the user may see of each key (`column` of the through model), by name."""
    links = (
        through.objects.filter(**{f"{column}__in": keys}, tag__in=selectors.tags_for(user).values("pk"))
        .select_related("tag")
        .order_by("tag__name", "tag_id")
    )
    by_key: dict[int, list[Tag]] = {key: [] for key in keys}
    for link in links:
        by_key[getattr(link, column)].append(link.tag)
    return [by_key[key] for key in keys]


class TagsByClientLoader(DataLoader[int, list[Tag]]):
    def batch_load(self, keys: list[int]) -> list[list[Tag]]:
        return _tags_by(ClientTag, "client_id", keys, self.user)


class TagsByMailingLoader(DataLoader[int, list[Tag]]):
    """A mailing's tags as the caller may see them: the owner all of them; a manager none (tags are the
    owner's labels of their list, like the clients), though they see the audience's kind and size."""

    def batch_load(self, keys: list[int]) -> list[list[Tag]]:
        return _tags_by(Mailing.tags.through, "mailing_id", keys, self.user)


class AudienceSizeLoader(DataLoader[Mailing, int]):
    """Each mailing's audience size now (`selectors.audience_sizes`: at most four queries a batch). Keyed
    by the mailing rows themselves (already scoped by `mailings_for`): the batch needs their audience."""

    def batch_load(self, keys: list[Mailing]) -> list[int]:
        sizes = selectors.audience_sizes(keys)
        return [sizes[key.pk] for key in keys]


class SenderByIdLoader(DataLoader[int, SenderIdentity | None]):
    """Mailings' chosen senders, with whether each is usable; None for one the caller may not see."""

    def batch_load(self, keys: list[int]) -> list[SenderIdentity | None]:
        visible = selectors.with_usability(selectors.visible_sender_identities(self.user))
        by_pk = {identity.pk: identity for identity in visible.filter(pk__in=keys)}
        return [by_pk.get(key) for key in keys]
