"""Reads. Every queryset a user may see starts here (R-AUTH-4, R-AUTH-5).

Owners see their own clients, messages, mailings and logs. A manager (permission `view_all_mailings`)
sees every mailing and its occurrences' counts, read-only, but no one else's client list, messages or
per-recipient log (`log_mailings_for`); superusers see every log. Who may what is `accounts.roles`; a user who
cannot act (anonymous, inactive, blocked) sees nothing.
"""

import datetime as dt
import functools
import hashlib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.utils import parseaddr
from pathlib import Path
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Concat, Lower, TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _

from backend.accounts import roles
from backend.accounts.models import User

from .compose import DkimKey, Sender
from .filters import (
    AttemptFilter,
    ClientFilter,
    DeliveryFilter,
    MailingFilter,
    MessageFilter,
    OccurrenceFilter,
    SignupFormFilter,
    TagFilter,
)
from .models import (
    Bounce,
    Client,
    ClientImport,
    ClientTag,
    Consent,
    Delivery,
    DeliveryAttempt,
    Mailing,
    Message,
    Occurrence,
    SenderDomain,
    SenderIdentity,
    SignupForm,
    Suppression,
    Tag,
    Unsubscription,
)


def clients_for(user: User) -> QuerySet[Client]:
    if not roles.may_act(user):
        return Client.objects.none()
    return Client.objects.filter(owner=user)


def tags_for(user: User) -> QuerySet[Tag]:
    """The user's own tags (a manager has none: tags label an owner's clients)."""
    if not roles.may_act(user):
        return Tag.objects.none()
    return Tag.objects.filter(owner=user)


M = TypeVar("M", Client, Mailing)


def with_tags(queryset: QuerySet[M]) -> QuerySet[M]:
    """Clients or mailings of a page with their tags (in name order) in one more query, whatever the rows."""
    return queryset.prefetch_related(Prefetch("tags", queryset=Tag.objects.order_by("name", "pk")))


def tags_with_sizes(user: User) -> QuerySet[Tag]:
    """`tags_for` with `size`: how many clients carry each (the tags list), from the (tag, client) index."""
    size = ClientTag.objects.filter(tag_id=OuterRef("pk")).order_by().values("tag_id")
    return tags_for(user).annotate(size=Coalesce(Subquery(size.annotate(n=Count("pk")).values("n")), 0))


def messages_for(user: User) -> QuerySet[Message]:
    if not roles.may_act(user):
        return Message.objects.none()
    return Message.objects.filter(owner=user)


def mailings_for(user: User) -> QuerySet[Mailing]:
    if not roles.may_act(user):
        return Mailing.objects.none()
    if roles.sees_all_mailings(user):
        return Mailing.objects.select_related("message", "owner")
    return own_mailings(user)


def own_mailings(user: User) -> QuerySet[Mailing]:
    """The user's own mailings, also for a superuser or a manager (whom `mailings_for` shows everyone's): what
    the owner pages list and the API's `mailings` returns, so another owner's mailing is missing there for
    everyone. Asks nothing of the user's roles (no permission query)."""
    if not roles.may_act(user):
        return Mailing.objects.none()
    return Mailing.objects.select_related("message", "owner").filter(owner=user)


def occurrences_for(user: User) -> QuerySet[Occurrence]:
    return Occurrence.objects.filter(mailing__in=mailings_for(user).values("pk"))


def log_mailings_for(user: User) -> QuerySet[Mailing]:
    """Mailings whose per-recipient log `user` may read: their own, or every one for a superuser. A manager
    oversees every mailing and its counts (`mailings_for`, `occurrences_for`) but not who it went to: a
    delivery log lists the recipients' addresses, a client list by another name (R-AUTH-5)."""
    if not roles.may_act(user):
        return Mailing.objects.none()
    return Mailing.objects.all() if roles.sees_all_delivery_logs(user) else Mailing.objects.filter(owner=user)


def deliveries_for(user: User) -> QuerySet[Delivery]:
    return Delivery.objects.filter(mailing__in=log_mailings_for(user).values("pk")).select_related("mailing")


def attempts_for(user: User) -> QuerySet[DeliveryAttempt]:
    return DeliveryAttempt.objects.filter(delivery__mailing__in=log_mailings_for(user).values("pk"))


# --- the lists, narrowed by their FilterSet (filters.py): `.qs` for a page, `.errors` first for the API ---


def client_list(user: User, filters: Mapping[str, Any] | None = None) -> ClientFilter:
    return ClientFilter(filters, queryset=clients_for(user))


def tag_list(user: User, filters: Mapping[str, Any] | None = None) -> TagFilter:
    """The user's tags with their sizes (`tags_with_sizes`), narrowed by name."""
    return TagFilter(filters, queryset=tags_with_sizes(user))


def message_list(user: User, filters: Mapping[str, Any] | None = None) -> MessageFilter:
    return MessageFilter(filters, queryset=messages_for(user))


def mailing_list(
    user: User, filters: Mapping[str, Any] | None = None, *, every_visible: bool = False
) -> MailingFilter:
    """The user's own mailings (`own_mailings`), or with `every_visible` all they may see (`mailings_for`)."""
    return MailingFilter(filters, queryset=mailings_for(user) if every_visible else own_mailings(user))


def occurrence_list(user: User, filters: Mapping[str, Any] | None = None) -> OccurrenceFilter:
    return OccurrenceFilter(filters, queryset=occurrences_for(user))


def delivery_list(
    user: User, filters: Mapping[str, Any] | None = None, *, occurrences: list[tuple[int, str]] = ()
) -> DeliveryFilter:
    """The delivery log the user may read; `occurrences` are the sends its `occurrence` may choose."""
    return DeliveryFilter(filters, queryset=deliveries_for(user), occurrences=occurrences)


def attempt_list(user: User, filters: Mapping[str, Any] | None = None) -> AttemptFilter:
    return AttemptFilter(filters, queryset=attempts_for(user))


def mailing_get(user: User, pk: int) -> Mailing:
    """One visible mailing; another owner's looks exactly like a missing one (Mailing.DoesNotExist)."""
    return mailings_for(user).get(pk=pk)


def client_get(user: User, pk: int) -> Client:
    return clients_for(user).get(pk=pk)


def email_hash(email: str) -> str:
    """What an erased address leaves behind (R-ENG-4, `Suppression`): the hex SHA-256 of the address
    stripped and lower-cased. Sign-up forms and imports compare with it; keep the definition unchanged, or
    every stored hash stops matching."""
    return hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()


def is_suppressed(owner_id: int, email: str) -> bool:
    """Whether `email` was erased from `owner_id`'s list at the person's request (R-ENG-4)."""
    return Suppression.objects.filter(owner_id=owner_id, email_hash=email_hash(email)).exists()


def suppressed_addresses(owner_id: int, addresses: Iterable[str]) -> set[str]:
    """Which of `addresses` (lower-cased) were erased from `owner_id`'s list at the person's request: one
    query, served by the (owner, hash) unique index."""
    by_hash = {email_hash(address): address for address in addresses}
    if not by_hash:
        return set()
    found = Suppression.objects.filter(owner_id=owner_id, email_hash__in=list(by_hash)).values_list(
        "email_hash", flat=True
    )
    return {by_hash[digest] for digest in found}


def bounces_for(user: User) -> QuerySet[Bounce]:
    """The bounces and complaints about the user's own deliveries (R-DLV-3), newest first. One that named no
    delivery of ours has no owner: the operator reads it in the admin. Without the raw mail (up to
    BOUNCE_RAW_MAX_BYTES a row): a list never loads it; `bounce_get` does, a row's `.raw` loads it alone."""
    if not roles.may_act(user):
        return Bounce.objects.none()
    return Bounce.objects.filter(owner=user).defer("raw").order_by("-received_at", "-pk")


def client_bounces(user: User, client: Client) -> QuerySet[Bounce]:
    """The bounces of one of the user's clients (another owner's client has none here)."""
    return bounces_for(user).filter(client_id=client.pk)


def bounce_get(user: User, pk: int) -> Bounce:
    """One of the user's bounces, raw mail included; another owner's is DoesNotExist like a missing one."""
    return bounces_for(user).defer(None).get(pk=pk)


def hard_bounced_addresses(owner_id: int, addresses: Iterable[str]) -> dict[str, dt.datetime]:
    """Which of `addresses` (lower-cased) hard-bounced in `owner_id`'s sends before, with the latest such
    bounce (R-DLV-3). A client added again with one of them starts bounced, as an address that unsubscribed
    stays unsubscribed: deleting a dead address and importing it again must not send to it again. The owner's
    Reactivate clears it. Served by the (owner, LOWER(email)) index."""
    wanted = list(addresses)
    if not wanted:
        return {}
    rows = (
        Bounce.objects.filter(owner_id=owner_id, kind=Bounce.Kind.HARD)
        .annotate(address=Lower("email"))
        .filter(address__in=wanted)
        .values("address")
        .annotate(last=Max("received_at"))
        .values_list("address", "last")
    )
    return dict(rows)


def client_imports_for(user: User) -> QuerySet[ClientImport]:
    """The user's own background imports, newest first (a manager has none)."""
    if not roles.may_act(user):
        return ClientImport.objects.none()
    return ClientImport.objects.filter(owner=user).order_by("-created_at", "-pk")


def client_import_get(user: User, pk: int) -> ClientImport:
    """One of the user's imports; another owner's is DoesNotExist, like a missing one."""
    return client_imports_for(user).get(pk=pk)


def client_import_report_path(job: ClientImport) -> Path:
    """Where the per-row report of a background import is written: next to its upload in
    MAILER_IMPORT_DIR."""
    return Path(settings.MAILER_IMPORT_DIR) / f"{job.path}.report.csv"


def client_import_report(job: ClientImport) -> Path | None:
    """The per-row report file of an import, once it has one."""
    path = client_import_report_path(job)
    return path if path.is_file() else None


def message_get(user: User, pk: int) -> Message:
    return messages_for(user).get(pk=pk)


def mailings_using(user: User, message: Message) -> QuerySet[Mailing]:
    """The visible mailings that send `message`. While there is one the message cannot be deleted
    (`services.message_delete` refuses with MESSAGE_IN_USE): a page lists these instead."""
    return mailings_for(user).filter(message=message)


# --- who mail comes from (R-DLV-1, R-DLV-2) ------------------------------------------------------------


def sender_identities_for(user: User) -> QuerySet[SenderIdentity]:
    """The user's own sender identities (a manager's list of everyone's is `all_sender_identities`)."""
    if not roles.may_act(user):
        return SenderIdentity.objects.none()
    return SenderIdentity.objects.filter(owner=user)


def sender_domains_for(user: User) -> QuerySet[SenderDomain]:
    """The user's own sender domains, without their private keys (never read where they are not signed
    with)."""
    if not roles.may_act(user):
        return SenderDomain.objects.none()
    return SenderDomain.objects.filter(owner=user).defer("private_key")


def all_sender_identities(user: User) -> QuerySet[SenderIdentity]:
    """Every owner's identities with their owners, for those who may revoke one (managers); none otherwise."""
    if not roles.may_revoke_senders(user):
        return SenderIdentity.objects.none()
    return SenderIdentity.objects.select_related("owner", "revoked_by").order_by("-created_at", "-pk")


def visible_sender_identities(user: User) -> QuerySet[SenderIdentity]:
    """What the API's nodes resolve: everyone's for those who may revoke them, the user's own otherwise."""
    if roles.may_revoke_senders(user):
        return all_sender_identities(user)
    return sender_identities_for(user).select_related("owner")


def sender_by_token(token: str) -> SenderIdentity | None:
    """The identity a confirmation link names, or None (a mistyped, replaced or unknown link)."""
    if not token or len(token) > 64:
        return None
    return SenderIdentity.objects.filter(confirmation_token=token).select_related("owner").first()


def verified_domains(owner_id: int) -> list[str]:
    """The owner's sender domains whose DKIM record was found: every address at them is usable."""
    return list(
        SenderDomain.objects.filter(owner_id=owner_id, verified_at__isnull=False).values_list(
            "domain", flat=True
        )
    )


def _usable() -> Q:
    """The usability rule as a condition on identity rows: not revoked, and confirmed or at a verified
    domain of the identity's own owner (the domain test is a subquery)."""
    at_verified_domain = (
        SenderDomain.objects.filter(owner_id=OuterRef("owner_id"), verified_at__isnull=False)
        .alias(
            address=Lower(OuterRef("from_email"), output_field=CharField()),
            suffix=Concat(Value("@"), F("domain"), output_field=CharField()),
        )
        .filter(address__endswith=F("suffix"))
    )
    return Q(revoked_at__isnull=True) & (Q(confirmed_at__isnull=False) | Q(Exists(at_verified_domain)))


def usable_senders(owner: User) -> QuerySet[SenderIdentity]:
    """THE rule of which identities mail may come from (R-DLV-1): the owner's own, not revoked by a manager,
    and either confirmed by the link sent to the address or at a domain of the owner's whose DKIM record
    was found in DNS. The mailing form's choices, `sender_of` and the pages' statuses all ask this. One
    lazy queryset, so a form can be built without touching the database."""
    return SenderIdentity.objects.filter(_usable(), owner_id=owner.pk)


def with_usability(identities: QuerySet[SenderIdentity]) -> QuerySet[SenderIdentity]:
    """`identities` with `is_usable`: the same rule as `usable_senders`, for a list in one query."""
    return identities.annotate(is_usable=ExpressionWrapper(_usable(), output_field=BooleanField()))


def _display_address(name: str, address: str) -> str:
    """ "Name <address>", the name quoted where it must be; the bare address if that cannot be written."""
    if not name:
        return address
    try:
        return str(Address(display_name=name, addr_spec=address))
    except (ValueError, IndexError, HeaderParseError):
        return address


def operator_sender(owner: User, *, reply_to: str = "") -> Sender:
    """The operator's address (DEFAULT_FROM_EMAIL) with the owner's name, replies to `reply_to` or to the
    owner: what an owner without a usable identity sends as."""
    operator_name, operator_address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    name = owner.get_full_name() or operator_name
    return Sender(
        from_email=_display_address(name, operator_address or settings.DEFAULT_FROM_EMAIL),
        reply_to=reply_to or owner.email,
    )


def sender_of(owner: User, identity: SenderIdentity | None) -> Sender:
    """Who `owner`'s mail chosen to come from `identity` comes from: that identity, signed with the key of
    its domain when the domain is verified, if `usable_senders` has it; else `operator_sender` (a revoked
    or no longer confirmed identity falls back at send time, its Reply-To kept)."""
    if identity is not None and identity.owner_id == owner.pk:
        if usable_senders(owner).filter(pk=identity.pk).exists():
            domain = identity.from_email.rpartition("@")[2].lower()
            signing = SenderDomain.objects.filter(
                owner_id=owner.pk, domain=domain, verified_at__isnull=False
            ).first()
            keys = (
                (DkimKey(signing.domain, signing.selector, signing.private_key.encode("ascii")),)
                if signing is not None
                else ()
            )
            return Sender(
                from_email=_display_address(identity.from_name, identity.from_email),
                reply_to=identity.reply_to,
                dkim_keys=keys,
            )
        return operator_sender(owner, reply_to=identity.reply_to)
    return operator_sender(owner)


def sender_for(mailing: Mailing) -> Sender:
    """Who `mailing`'s messages come from, decided once per occurrence (sending/worker.py): `sender_of` its
    owner and its chosen identity."""
    return sender_of(mailing.owner, mailing.sender if mailing.sender_id else None)


# --- what is sent, and to whom (R-SEND-8): the one definition every sending path uses ---------------


def sendable_mailings() -> QuerySet[Mailing]:
    """Mailings that may be sent at all: active (not disabled by a manager), not paused by their owner
    (R-OWN-1), not completed, and owned by a user who can act (active, not blocked) and whose sending is
    not paused for a manager's review (R-DLV-5). The scheduler's start step, the engine's claim before
    every batch, `mailing_send_now` and the dry-run all ask this, so none of them can disagree."""
    return Mailing.objects.filter(
        roles.may_act_q("owner"),
        is_active=True,
        paused_at__isnull=True,
        owner__sending_paused_at__isnull=True,
    ).exclude(status=Mailing.Status.COMPLETED)


def recipients_of(mailing: Mailing) -> QuerySet[Client]:
    """The clients an occurrence of `mailing` goes to (R-AUD-1): its audience — everyone in its owner's
    list, the clients carrying any or all of its tags, or the clients chosen for it — among those subscribed
    and not an address that unsubscribed from this owner before (the per-owner list outlives a deleted
    client). Only the owner's own list counts (a client moved to another owner leaves the mailing). Read
    when each occurrence starts, in SQL: the audience's ids never pass through Python."""
    clients = _reachable_clients().filter(owner_id=mailing.owner_id)
    return _in_audience(clients, mailing).order_by("pk")


def _reachable_clients() -> QuerySet[Client]:
    """Every owner's clients a mailing may reach: subscribed, not bounced (R-DLV-3: until the owner
    reactivates them), and not an address that unsubscribed from their owner before."""
    left = Unsubscription.objects.filter(owner_id=OuterRef("owner_id"), email=Lower(OuterRef("email")))
    return Client.objects.filter(unsubscribed_at__isnull=True, bounced_at__isnull=True).exclude(Exists(left))


def _in_audience(clients: QuerySet[Client], mailing: Mailing) -> QuerySet[Client]:
    audience = mailing.audience
    if audience == Mailing.Audience.EVERYONE:
        return clients
    if audience == Mailing.Audience.CLIENTS:
        chosen = Mailing.clients.through.objects.filter(mailing_id=mailing.pk, client_id=OuterRef("pk"))
        return clients.filter(Exists(chosen)) if mailing.pk else clients.none()
    if audience == Mailing.Audience.TAGS and mailing.pk:
        # A mailing's tags are a handful of the owner's labels, not its audience.
        tag_ids = list(mailing.tags.filter(owner_id=mailing.owner_id).values_list("pk", flat=True))
        if not tag_ids:
            return clients.none()
        carried = ClientTag.objects.filter(client_id=OuterRef("pk"))
        if mailing.tag_match == Mailing.TagMatch.ALL:
            for tag_id in tag_ids:
                clients = clients.filter(Exists(carried.filter(tag_id=tag_id)))
            return clients
        return clients.filter(Exists(carried.filter(tag_id__in=tag_ids)))
    return clients.none()


def audience_size(mailing: Mailing) -> int:
    """How many clients an occurrence of `mailing` would go to if it started now."""
    if mailing.audience == Mailing.Audience.EVERYONE:
        return _everyone_sizes([mailing.owner_id]).get(mailing.owner_id, 0)
    return recipients_of(mailing).count()


def _everyone_sizes(owner_ids: Iterable[int]) -> dict[int, int]:
    """`_reachable_clients` counted per owner, the same number as counting it, in two cheap counts instead of
    one anti-join that lower-cases every address of a million-client list (R-AUD-1, "big lists, fast"): the
    subscribed, not bounced clients (an index or a scan, no function per row), minus those of them whose
    address is on the owner's unsubscribe list — counted from that list, a probe each into the
    (owner, LOWER(email)) unique index, so it costs the list's length, not the clients'."""
    owner_ids = set(owner_ids)
    if not owner_ids:
        return {}
    subscribed = Client.objects.filter(unsubscribed_at__isnull=True, bounced_at__isnull=True)
    totals = dict(
        subscribed.filter(owner_id__in=owner_ids)
        .order_by()
        .values("owner_id")
        .annotate(n=Count("pk"))
        .values_list("owner_id", "n")
    )
    reachable_left = subscribed.annotate(address=Lower("email")).filter(
        owner_id=OuterRef("owner_id"), address=OuterRef("email")
    )
    left = dict(
        Unsubscription.objects.filter(Exists(reachable_left), owner_id__in=owner_ids)
        .order_by()
        .values("owner_id")
        .annotate(n=Count("pk"))
        .values_list("owner_id", "n")
    )
    return {owner_id: totals.get(owner_id, 0) - left.get(owner_id, 0) for owner_id in owner_ids}


def _correlated_count(clients: QuerySet[Client]) -> Coalesce:
    """COUNT(*) of `clients`, a subquery of one owner's clients correlated with the outer mailing."""
    counted = clients.order_by().values("owner_id").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted), 0)


def audience_sizes(mailings: Iterable[Mailing]) -> dict[int, int]:
    """`audience_size` of many mailings at once (a page of them), by primary key, in at most four queries
    whatever their number: everyone's per owner (two: `_everyone_sizes`), the chosen clients' per mailing,
    and the tags' per mailing (a correlated count). The same rule as `recipients_of`, which the tests compare
    it with."""
    sizes: dict[int, int] = {}
    by_audience: dict[str, list[Mailing]] = {}
    for mailing in mailings:
        sizes[mailing.pk] = 0
        by_audience.setdefault(mailing.audience, []).append(mailing)
    everyone = by_audience.get(Mailing.Audience.EVERYONE, [])
    if everyone:
        per_owner = _everyone_sizes(mailing.owner_id for mailing in everyone)
        sizes.update({mailing.pk: per_owner.get(mailing.owner_id, 0) for mailing in everyone})
    chosen = by_audience.get(Mailing.Audience.CLIENTS, [])
    if chosen:
        reachable = _reachable_clients().filter(
            pk=OuterRef("client_id"), owner_id=OuterRef("mailing__owner_id")
        )
        rows = (
            Mailing.clients.through.objects.filter(mailing_id__in=[mailing.pk for mailing in chosen])
            .filter(Exists(reachable))
            .order_by()
            .values("mailing_id")
            .annotate(n=Count("pk"))
        )
        sizes.update({row["mailing_id"]: row["n"] for row in rows})
    tagged = by_audience.get(Mailing.Audience.TAGS, [])
    if tagged:
        owners_clients = _reachable_clients().filter(owner_id=OuterRef("owner_id"))
        # Tags of the outer mailing in its owner's list (seen from a client's subquery).
        mailing_tags = Mailing.tags.through.objects.filter(
            mailing_id=OuterRef(OuterRef("pk")), tag__owner_id=OuterRef("owner_id")
        )
        carries_any = Exists(
            ClientTag.objects.filter(
                client_id=OuterRef("pk"),
                tag__owner_id=OuterRef("owner_id"),
                tag__mailings=OuterRef(OuterRef("pk")),
            )
        )
        lacks_one = Exists(
            mailing_tags.exclude(
                Exists(
                    ClientTag.objects.filter(client_id=OuterRef(OuterRef("pk")), tag_id=OuterRef("tag_id"))
                )
            )
        )
        has_tags = Exists(
            Mailing.tags.through.objects.filter(mailing_id=OuterRef("pk"), tag__owner_id=OuterRef("owner_id"))
        )
        rows = (
            Mailing.objects.filter(has_tags, pk__in=[mailing.pk for mailing in tagged])
            .order_by()
            .annotate(
                size=Case(
                    When(
                        tag_match=Mailing.TagMatch.ALL,
                        then=_correlated_count(owners_clients.exclude(lacks_one)),
                    ),
                    default=_correlated_count(owners_clients.filter(carries_any)),
                )
            )
            .values_list("pk", "size")
        )
        sizes.update(rows)
    return sizes


def due_mailings(now: dt.datetime | None = None) -> QuerySet[Mailing]:
    """Sendable mailings whose next occurrence has come (R-SEND-1, R-SEND-2, R-SEND-8)."""
    now = now or timezone.now()
    return sendable_mailings().filter(next_run_at__isnull=False, next_run_at__lte=now)


def is_due(mailing: Mailing, now: dt.datetime | None = None) -> bool:
    """Whether `mailing` is among `due_mailings`: the scheduler starts its next occurrence within seconds."""
    return due_mailings(now).filter(pk=mailing.pk).exists()


def overdue_deliveries(*, late_by: dt.timedelta, now: dt.datetime | None = None) -> QuerySet[Delivery]:
    """Deliveries of sendable mailings still waiting more than `late_by` after they were due: a backlog
    the schedulers are not keeping up with (`/readyz`). A delivery held by a worker is due
    at its lease's end, so work in progress is not counted."""
    now = now or timezone.now()
    return Delivery.objects.filter(
        status__in=Delivery.PENDING_STATUSES,
        next_attempt_at__lt=now - late_by,
        mailing__in=sendable_mailings().values("pk"),
    )


# --- statistics for reports and dashboards (R-SEND-4, R-UI-2/8/9) -----

_STATUS = Delivery.Status
RECENT_FAILURES_DAYS = 7
PER_DAY_DAYS = 30


def _live_count(**where: Any) -> Coalesce:
    """An occurrence's deliveries (with `where`), counted from the (occurrence, status) index."""
    mine = Delivery.objects.filter(occurrence_id=OuterRef("pk"), **where).order_by().values("occurrence_id")
    # COUNT(occurrence_id), not COUNT(id): a column of the index, so PostgreSQL counts from the index alone.
    return Coalesce(Subquery(mine.annotate(n=Count("occurrence_id")).values("n")), 0)


def _counted(frozen: str | None, **where: Any) -> Case:
    """A finished occurrence's frozen total (`frozen`; 0 for a status no finished occurrence has), else the
    live count: the deliveries of finished occurrences are never read, and may have been purged."""
    return Case(
        When(finished_at__isnull=False, sent_total__isnull=False, then=F(frozen) if frozen else Value(0)),
        default=_live_count(**where),
        output_field=IntegerField(),
    )


_TOTALS: dict[str, tuple[str | None, dict[str, Any]]] = {
    # annotation: (the frozen total of a finished occurrence, which deliveries the live count counts)
    "sent_count": ("sent_total", {"status": _STATUS.SENT}),
    "failed_count": ("failed_total", {"status": _STATUS.FAILED}),
    "retrying_count": (None, {"status": _STATUS.RETRYING}),
    "pending_count": (None, {"status": _STATUS.PENDING}),
    "skipped_count": ("skipped_total", {"status": _STATUS.SKIPPED}),
    "waiting_count": (None, {"status__in": Delivery.PENDING_STATUSES}),
    "deliveries_count": ("deliveries_total", {}),
}


def occurrence_totals(names: Collection[str] | None = None) -> dict[str, Case]:
    """The annotations `occurrences_with_stats` puts on each occurrence: a count per delivery status
    (`sent_count`, `failed_count`, `retrying_count`, `pending_count`, `skipped_count`), `waiting_count`
    (pending and retrying) and `deliveries_count`; only those in `names` when given."""
    return {
        name: _counted(frozen, **where)
        for name, (frozen, where) in _TOTALS.items()
        if names is None or name in names
    }


def with_list_figures(
    mailings: QuerySet[Mailing],
    user: User,
    *,
    clients_total: bool = False,
    clients_visible: bool = False,
    last_counts: frozenset[str] | None = None,
) -> QuerySet[Mailing]:
    """`mailings` (rows the user may see) with what a list of them shows beyond their columns, in the same
    query as the rows: `clients_total` (every client chosen), `clients_visible` (those of them the user may
    list, as `clients_for` decides: a mailing's chosen clients are its owner's, MailingForm offers no other,
    so all of them on the user's own mailings and none on anyone else's), and with `last_counts` (names of
    `occurrence_totals`, maybe none) `last_occurrence_id` (the latest occurrence, None before any) and
    `last_<name>` for each name, counted as `occurrences_with_stats` counts them. A mailing's occurrences
    are visible with the mailing."""
    figures = dict(_list_figures(clients_total or clients_visible, last_counts))
    chosen = figures["clients_total"] if clients_total else figures.pop("clients_total", None)
    if clients_visible:
        # Not a join with the user's clients: PostgreSQL hashes all of them again for every row.
        own = [When(owner_id=user.pk, then=chosen)] if roles.may_act(user) else []
        figures["clients_visible"] = Case(*own, default=Value(0), output_field=IntegerField())
    return mailings.annotate(**figures) if figures else mailings


@functools.cache
def _list_figures(clients: bool, last_counts: frozenset[str] | None) -> dict[str, Any]:
    """The expressions of `with_list_figures`, built once per kind (the ORM copies an expression it is
    given, so one serves every query)."""
    figures: dict[str, Any] = {}
    if clients:
        chosen = Mailing.clients.through.objects.filter(mailing_id=OuterRef("pk")).order_by()
        figures["clients_total"] = _count_of(chosen, "mailing_id")
    if last_counts is not None:
        latest = Occurrence.objects.filter(mailing_id=OuterRef("pk")).order_by("-scheduled_for", "-pk")
        figures["last_occurrence_id"] = Subquery(latest.values("pk")[:1])
        for name, total in occurrence_totals(last_counts).items():
            figures[f"last_{name}"] = Subquery(latest.annotate(value=total).values("value")[:1])
    return figures


def _count_of(rows: QuerySet, column: str) -> Coalesce:
    """How many of `rows` (filtered on an `OuterRef`) there are, 0 for none, grouped by `column`."""
    return Coalesce(Subquery(rows.values(column).annotate(n=Count(column)).values("n")), 0)


def first_attempt_of_occurrence() -> Subquery:
    """The time of an occurrence's (`OuterRef`) first attempt: a minimum over its deliveries' attempts, read
    through their indexes. Not the first attempt in the log's time order: PostgreSQL walked the whole log
    by time for an occurrence with no attempt yet (2.6 s at a million attempts)."""
    return Subquery(
        DeliveryAttempt.objects.filter(delivery__occurrence_id=OuterRef("pk"))
        .order_by()
        .values("delivery__occurrence_id")
        .annotate(first=Min("attempted_at"))
        .values("first")
    )


def occurrences_with_stats(
    user: User,
    mailing: Mailing | None = None,
    *,
    attempt_times: bool = True,
    counts: Collection[str] | None = None,
) -> QuerySet[Occurrence]:
    """Visible occurrences (of `mailing` only, when given), newest first, each annotated with its
    deliveries per status (`occurrence_totals`) and its first and last attempt times (`first_attempt_at`,
    `last_attempt_at`, None before any attempt): what a report's table and chart need, in one query whatever
    the number of occurrences (besides loading the viewer's permissions once). A finished occurrence's
    counts are the totals frozen when it finished (R-DATA-4: they outlive its purged log); a running one's
    are counted from the indexes. Without `attempt_times` the two times are left out: for a running
    occurrence they read its attempt log, and a list of mailings with their last counts does not show them.
    `counts` names the `occurrence_totals` wanted (all of them by default): each is a subquery to build and
    to run."""
    occurrences = occurrences_for(user).select_related("mailing")
    if mailing is not None:
        occurrences = occurrences.filter(mailing_id=mailing.pk)
    times = {}
    if attempt_times:
        first_attempt = first_attempt_of_occurrence()
        # Every attempt writes the delivery's last_attempt_at; the first attempt needs the log itself.
        last_attempt = (
            Delivery.objects.filter(occurrence_id=OuterRef("pk"))
            .order_by()
            .values("occurrence_id")
            .annotate(last=Max("last_attempt_at"))
            .values("last")
        )
        frozen = Q(finished_at__isnull=False, sent_total__isnull=False)
        times = {
            "last_attempt_at": Case(
                When(frozen, then=F("last_attempted_at")), default=Subquery(last_attempt)
            ),
            "first_attempt_at": Case(When(frozen, then=F("first_attempted_at")), default=first_attempt),
        }
    totals = occurrence_totals(counts)
    return occurrences.order_by("-scheduled_for", "-pk").annotate(**totals, **times)


@dataclass(frozen=True)
class UpcomingSend:
    mailing: Mailing
    next_run_at: dt.datetime


@dataclass(frozen=True)
class OwnerDashboard:
    """An owner's own totals (the API's `dashboard`): their clients, messages and mailings
    only, also for a manager or superuser looking at their own dashboard."""

    clients: int
    subscribed_clients: int
    messages: int
    mailings_created: int
    mailings_started: int
    mailings_completed: int
    active_mailings: int  # started and not disabled, as on the home page
    next_sends: list[UpcomingSend]  # up to 5, soonest first
    recent_failures: list[Delivery]  # up to 10 of the last 7 days, newest first, with their mailing
    sent: int
    failed: int

    @property
    def mailings(self) -> int:
        return self.mailings_created + self.mailings_started + self.mailings_completed


def _mailing_counts() -> dict[str, Count]:
    return {
        "created": Count("pk", filter=Q(status=Mailing.Status.CREATED)),
        "started": Count("pk", filter=Q(status=Mailing.Status.STARTED)),
        "completed": Count("pk", filter=Q(status=Mailing.Status.COMPLETED)),
        "active": Count("pk", filter=Mailing.ACTIVE),
    }


def owner_dashboard(user: User, *, now: dt.datetime | None = None) -> OwnerDashboard:
    """The signed-in user's own dashboard in six queries, whatever the size of their lists; all zeros and
    empty lists for a user who cannot act."""
    now = now or timezone.now()
    mailings = mailings_for(user).filter(owner_id=user.pk)
    deliveries = Delivery.objects.filter(mailing__in=mailings.values("pk"))
    clients = clients_for(user).aggregate(
        total=Count("pk"), subscribed=Count("pk", filter=Q(unsubscribed_at__isnull=True))
    )
    by_status = mailings.aggregate(**_mailing_counts())
    sends = mailings.filter(is_active=True, paused_at__isnull=True, next_run_at__isnull=False).exclude(
        status=Mailing.Status.COMPLETED
    )
    failures = (
        deliveries.filter(
            status=_STATUS.FAILED, last_attempt_at__gte=now - dt.timedelta(days=RECENT_FAILURES_DAYS)
        )
        .select_related("mailing__message", "occurrence")
        .order_by("-last_attempt_at", "-pk")
    )
    # Per occurrence, frozen or from the indexes (`occurrence_totals`), never every delivery row.
    occurrences = Occurrence.objects.filter(mailing__in=mailings.values("pk")).annotate(**occurrence_totals())
    totals = occurrences.aggregate(
        sent=Coalesce(Sum("sent_count"), 0), failed=Coalesce(Sum("failed_count"), 0)
    )
    return OwnerDashboard(
        clients=clients["total"],
        subscribed_clients=clients["subscribed"],
        messages=messages_for(user).count(),
        mailings_created=by_status["created"],
        mailings_started=by_status["started"],
        mailings_completed=by_status["completed"],
        active_mailings=by_status["active"],
        next_sends=[UpcomingSend(m, m.next_run_at) for m in sends.order_by("next_run_at", "pk")[:5]],
        recent_failures=list(failures[:10]),
        sent=totals["sent"],
        failed=totals["failed"],
    )


@dataclass(frozen=True)
class DayStats:
    day: dt.date
    sent: int
    failed: int


@dataclass(frozen=True)
class ServiceStats:
    """The whole service at a glance, for managers and superusers (the API's `serviceStats`, R-UI-8).
    Sends and failures count attempts (the attempt log, R-SEND-4): `sent` the ones the server accepted,
    `failed` every other attempt (temporary or permanent); days are the viewer's calendar days."""

    users: int
    verified_users: int
    blocked_users: int
    mailings_created: int
    mailings_started: int
    mailings_completed: int
    active_mailings: int
    sent_today: int
    failed_today: int
    per_day: list[DayStats]  # the last 30 days, oldest first, today last, every day present

    @property
    def mailings(self) -> int:
        return self.mailings_created + self.mailings_started + self.mailings_completed


def service_stats(user: User, *, tz: dt.tzinfo, now: dt.datetime | None = None) -> ServiceStats:
    """Raises PermissionDenied for anyone who may not view every mailing (owners, blocked or signed-out
    users): a refusal the API and pages can tell from "no data". Three queries, whatever the data."""
    if not roles.sees_all_mailings(user):
        raise PermissionDenied(_("Only managers can see the service's statistics."))
    now = now or timezone.now()
    today = now.astimezone(tz).date()
    first_day = today - dt.timedelta(days=PER_DAY_DAYS - 1)
    since = dt.datetime.combine(first_day, dt.time.min).replace(tzinfo=tz)
    users = User.objects.aggregate(
        total=Count("pk"),
        verified=Count("pk", filter=Q(email_verified=True)),
        blocked=Count("pk", filter=Q(is_blocked=True)),
    )
    by_status = mailings_for(user).order_by().aggregate(**_mailing_counts())
    sent = Q(outcome=DeliveryAttempt.Outcome.SENT)
    # Counts over every overseen mailing's attempts; no row leaves this function.
    overseen = DeliveryAttempt.objects.filter(delivery__mailing__in=mailings_for(user).values("pk"))
    rows = (
        overseen.filter(attempted_at__gte=since, attempted_at__lte=now)
        .annotate(day=TruncDate("attempted_at", tzinfo=tz))
        .order_by()
        .values("day")
        .annotate(sent=Count("pk", filter=sent), failed=Count("pk", filter=~sent))
    )
    counts = {row["day"]: (row["sent"], row["failed"]) for row in rows}
    per_day = [
        DayStats(day, *counts.get(day, (0, 0)))
        for day in (first_day + dt.timedelta(days=n) for n in range(PER_DAY_DAYS))
    ]
    return ServiceStats(
        users=users["total"],
        verified_users=users["verified"],
        blocked_users=users["blocked"],
        mailings_created=by_status["created"],
        mailings_started=by_status["started"],
        mailings_completed=by_status["completed"],
        active_mailings=by_status["active"],
        sent_today=per_day[-1].sent,
        failed_today=per_day[-1].failed,
        per_day=per_day,
    )


# --- public sign-up forms and the client's preferences (R-ENG-1, R-ENG-3) ---------------------------------


def signup_forms_for(user: User) -> QuerySet[SignupForm]:
    """The user's own sign-up forms."""
    if not roles.may_act(user):
        return SignupForm.objects.none()
    return SignupForm.objects.filter(owner=user)


def signup_form_list(user: User, filters: Mapping[str, Any] | None = None) -> SignupFormFilter:
    """The user's sign-up forms with how many confirmed subscriptions each brought, narrowed by name."""
    confirmed = Consent.objects.filter(form_id=OuterRef("pk")).order_by().values("form_id")
    forms = signup_forms_for(user).annotate(
        confirmed=Coalesce(Subquery(confirmed.annotate(n=Count("pk")).values("n")), 0)
    )
    return SignupFormFilter(filters, queryset=forms)


def signup_form_get(user: User, pk: int) -> SignupForm:
    return signup_forms_for(user).get(pk=pk)


def signup_form_public(public_id: str) -> SignupForm | None:
    """The form a public address names, with its owner, or None (unknown, or too long to be one)."""
    if not public_id or len(public_id) > 32:
        return None
    return SignupForm.objects.select_related("owner").filter(public_id=public_id).first()


def public_tags(owner_id: int) -> QuerySet[Tag]:
    """The owner's tags that their clients see and may change on the preferences page, in name order."""
    return Tag.objects.filter(owner_id=owner_id, is_public=True).order_by("name", "pk")


def subscribed_client(owner_id: int, email: str) -> Client | None:
    """The owner's client with this address who receives mailings (subscribed, not on the unsubscribe
    list), or None."""
    email = email.strip().lower()
    # LOWER(email) = the lower-cased address, as the unique constraint compares: not `iexact`, whose UPPER()
    # folds lookalike letters into ASCII on PostgreSQL (an address with a dotless i would match "gmail").
    client = (
        Client.objects.annotate(email_lower=Lower("email"))
        .filter(owner_id=owner_id, email_lower=email, unsubscribed_at__isnull=True)
        .first()
    )
    if client is None or Unsubscription.objects.filter(owner_id=owner_id, email=email).exists():
        return None
    return client
