"""What a page of mailings needs beyond its own rows, loaded once per page and only when asked.

`MailingType.prefetch_page` hands every node of a page the same `MailingPage`; the first node whose resolver
asks for a client count or a last occurrence loads that value for the whole page in one query. A page of 100
mailings therefore costs the same queries as a page of 5, and a query that does not select those fields costs
none. A mailing fetched on its own (`mailing(id)`, `node`) gets a page of one.

Everything here starts from what the caller may see: the page's mailings come from `mailings_for`, and the
clients a caller may list are `clients_for` (a manager's is empty: R-AUTH-5).
"""

from dataclasses import dataclass
from functools import cached_property

from django.db.models import Count, OuterRef, Q, Subquery

from backend.accounts.models import User
from backend.mailings import selectors
from backend.mailings.models import Mailing, Occurrence


@dataclass(frozen=True)
class ClientCounts:
    total: int = 0  # every client the mailing is addressed to
    visible: int = 0  # of those, the ones the caller may list (clients_for)


class MailingPage:
    def __init__(self, mailings: list[Mailing], user: User) -> None:
        self.ids = [mailing.pk for mailing in mailings]
        self.user = user
        self._last_occurrences: dict[bool, dict[int, Occurrence]] = {}

    @classmethod
    def of(cls, mailing: Mailing, user: User) -> "MailingPage":
        page = getattr(mailing, "_page", None)
        if page is None:
            page = mailing._page = cls([mailing], user)
        return page

    @cached_property
    def client_counts(self) -> dict[int, ClientCounts]:
        through = Mailing.clients.through
        visible = selectors.clients_for(self.user).values("pk")
        rows = (
            through.objects.filter(mailing_id__in=self.ids)
            .values("mailing_id")
            .annotate(total=Count("pk"), visible=Count("pk", filter=Q(client_id__in=visible)))
            .order_by()
        )
        return {row["mailing_id"]: ClientCounts(row["total"], row["visible"]) for row in rows}

    def last_occurrences(self, *, attempt_times: bool) -> dict[int, Occurrence]:
        """Each mailing's latest occurrence, annotated with its counts (`selectors.occurrences_with_stats`,
        what the `Occurrence` type reads), and with its first and last attempt times only when the query
        asks for them (they read the attempt log: most of the query's cost)."""
        loaded = self._last_occurrences.get(attempt_times)
        if loaded is None:
            loaded = self._last_occurrences[attempt_times] = self._load_last_occurrences(attempt_times)
        return loaded

    def _load_last_occurrences(self, attempt_times: bool) -> dict[int, Occurrence]:
        latest = (
            Occurrence.objects.filter(mailing_id=OuterRef("pk"))
            .order_by("-scheduled_for", "-pk")
            .values("pk")[:1]
        )
        latest_ids = Mailing.objects.filter(pk__in=self.ids).annotate(last=Subquery(latest)).values("last")
        occurrences = (
            selectors.occurrences_with_stats(self.user, attempt_times=attempt_times)
            .select_related(None)
            .filter(pk__in=latest_ids)
        )
        return {occurrence.mailing_id: occurrence for occurrence in occurrences}


def share_mailings(holders: list, user: User) -> None:
    """Give rows that point at a mailing (a page of deliveries or occurrences) one Mailing object per
    mailing, read with its message and owner in one query and sharing one `MailingPage`, so that
    `mailing { ... }` under a list costs the same queries for 5 rows as for 100. Loaded through
    `mailings_for`, like the rows themselves."""
    ids = {holder.mailing_id for holder in holders}
    mailings = {
        mailing.pk: mailing
        for mailing in selectors.mailings_for(user)
        .filter(pk__in=ids)
        .defer("message__body", "message__html_body")
    }
    page = MailingPage(list(mailings.values()), user)
    for mailing in mailings.values():
        mailing._page = page
    for holder in holders:
        if holder.mailing_id in mailings:
            holder.mailing = mailings[holder.mailing_id]
