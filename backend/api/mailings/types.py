"""Clients, messages and mailings as Relay nodes.

Every node type intersects its queryset with the owner-scoped selector, so `node(id:)`, connections and any
lookup by global ID see exactly what the pages see (R-AUTH-4): an owner their own clients, messages and
mailings; a manager every mailing (read-only) but no one's clients or messages (R-AUTH-5). A connection whose
resolver already starts from that selector says so (`PageConnectionField(scoped=True)`: `mailings`,
`allMailings`) and is not narrowed twice.

What a manager may read of someone else's mailing: its schedule, state, owner, the message's subject (a
mailing is named by its subject everywhere, the admin included) and how many clients it goes to — not the
message's text and not the client list. So `Mailing.message` is a `MessageSummary` (id and subject) rather
than the `Message` node, and `Mailing.clients` lists only the clients `clients_for(viewer)` allows.
Likewise a manager sees a mailing's audience kind and size (`audience`, `tagMatch`, `audienceSize`) but not
which tags or clients it names (`tags` and `clients` are empty for them: R-AUD-1).
"""

from functools import cached_property, partial

import graphene
from django.utils import timezone
from django.utils.translation import gettext as _
from graphene.relay.connection import PageInfo, connection_adapter, page_info_adapter
from graphql_relay import connection_from_array_slice, get_offset_with_default, to_global_id

from backend.filtering import ordered as sort_by
from backend.mailings import selectors
from backend.mailings.models import Bounce, Client, Mailing, Message, Occurrence, Tag

from ..core.dataloaders import Deferred
from ..core.errors import BAD_REQUEST, graphql_error
from ..core.limits import max_page_size
from ..core.pagination import CountableConnection, check_page_args
from ..core.selection import children, fields_at, selected
from ..core.types import ModelType, partial_row
from ..reports.types import COUNT_STATS, stats_selected
from .dataloaders import (
    AudienceSizeLoader,
    ClientCountsByMailingLoader,
    LastOccurrenceByMailingLoader,
    SenderByIdLoader,
    TagsByClientLoader,
    TagsByMailingLoader,
    TagSizeLoader,
)

MailingStatus = graphene.Enum.from_enum(
    Mailing.Status, name="MailingStatus", description="created → started → completed (R-DATA-3)."
)
MailingPeriodicity = graphene.Enum.from_enum(
    Mailing.Periodicity, name="MailingPeriodicity", description="How often a mailing repeats (R-SEND-3)."
)

MailingAudience = graphene.Enum.from_enum(
    Mailing.Audience,
    name="MailingAudience",
    description="Who a mailing goes to, resolved when each occurrence starts (R-AUD-1): everyone subscribed "
    "in your list, the clients with some of its tags (see tagMatch), or the clients chosen for it.",
)
MailingTagMatch = graphene.Enum.from_enum(
    Mailing.TagMatch,
    name="MailingTagMatch",
    description="With audience TAGS: clients carrying any of the tags, or all of them.",
)

UPCOMING_MAX = 50


class ClientOrder(graphene.Enum):
    """Sort orders of `clients`; ties are broken by creation, so cursors stay stable."""

    FULL_NAME = "full_name"
    FULL_NAME_DESC = "-full_name"
    EMAIL = "email"
    EMAIL_DESC = "-email"
    CREATED = "created_at"
    CREATED_DESC = "-created_at"


class TagOrder(graphene.Enum):
    """Sort orders of `tags`."""

    NAME = "name"
    NAME_DESC = "-name"
    SIZE = "size"
    SIZE_DESC = "-size"
    CREATED = "created_at"
    CREATED_DESC = "-created_at"


class MessageOrder(graphene.Enum):
    """Sort orders of `messages`."""

    UPDATED_DESC = "-updated_at"
    UPDATED = "updated_at"
    SUBJECT = "subject"
    SUBJECT_DESC = "-subject"
    CREATED = "created_at"
    CREATED_DESC = "-created_at"


class MailingOrder(graphene.Enum):
    """Sort orders of `mailings` and `allMailings`; NEXT_RUN puts mailings with nothing left last."""

    CREATED_DESC = "-created_at"
    CREATED = "created_at"
    START = "start_at"
    START_DESC = "-start_at"
    NEXT_RUN = "next_run_at"
    NEXT_RUN_DESC = "-next_run_at"


def ordered(queryset, order: str | None, default: str):
    """`queryset` sorted by one whitelisted field (an enum value), the primary key breaking ties."""
    return sort_by(queryset, getattr(order, "value", order) or default)


def viewer(info):
    return info.context.user


def within(queryset, visible):
    """`queryset` narrowed to `visible`, an owner-scoped selector's queryset (a node lookup passes the
    model's manager, hence `.all()`)."""
    return queryset.all() & visible


# --- tags -----------------------------------------------------------------------------------------------


class TagType(ModelType):
    """A label on clients in your list (R-AUD-2); a mailing can go to the clients carrying some tags."""

    size = graphene.Int(required=True, description="How many of your clients carry it.")

    class Meta:
        model = Tag
        name = "Tag"
        interfaces = (graphene.relay.Node,)
        connection_class = CountableConnection
        fields = ("id", "name", "is_public", "created_at")

    @classmethod
    def get_queryset(cls, queryset, info):
        return within(queryset, selectors.tags_for(viewer(info)))

    @staticmethod
    def resolve_size(root: Tag, info) -> int | Deferred:
        size = getattr(root, "size", None)  # the `tags` list annotates it (selectors.tags_with_sizes)
        return size if size is not None else TagSizeLoader.of(info).load(root.pk)


TagConnection = TagType._meta.connection


# --- clients --------------------------------------------------------------------------------------------


BounceKind = graphene.Enum.from_enum(
    Bounce.Kind, name="BounceKind", description="What came back for a delivery (R-DLV-3, R-DLV-4)."
)


class BounceType(ModelType):
    """A bounce or complaint read back for one of your deliveries (R-DLV-3): what it was, why, and the raw
    mail as text until BOUNCE_RAW_DAYS have passed."""

    kind = BounceKind(required=True)
    raw = graphene.String(description="The mail as received (decoded as UTF-8); null once deleted.")

    class Meta:
        model = Bounce
        name = "Bounce"
        interfaces = (graphene.relay.Node,)
        connection_class = CountableConnection
        fields = (
            "id",
            "received_at",
            "email",
            "status_code",
            "reason",
            "size",
            "raw_truncated",
            "raw_purged_at",
        )

    @classmethod
    def get_queryset(cls, queryset, info):
        return within(queryset, selectors.bounces_for(viewer(info)))

    @staticmethod
    def resolve_raw(root: Bounce, info) -> str | None:
        if root.raw_purged_at is not None:
            return None
        return bytes(root.raw).decode("utf-8", "replace")


class ClientType(ModelType):
    """A recipient in the owner's list (R-DATA-1)."""

    is_subscribed = graphene.Boolean(
        required=True, description="False once the recipient unsubscribed; nothing is sent to them."
    )
    tags = graphene.List(
        graphene.NonNull(TagType), required=True, description="The client's tags, by name (R-AUD-2)."
    )
    bounces = graphene.List(
        graphene.NonNull(BounceType),
        required=True,
        limit=graphene.Int(default_value=20, description="At most this many (1 to 100)."),
        description="The bounces and complaints read back for this client, newest first (R-DLV-3).",
    )

    class Meta:
        model = Client
        name = "Client"
        interfaces = (graphene.relay.Node,)
        connection_class = CountableConnection
        fields = (
            "id",
            "email",
            "full_name",
            "comment",
            "created_at",
            "unsubscribed_at",
            "bounced_at",
            "reactivated_at",
            "last_opened_at",
            "last_clicked_at",
        )
        convert_choices_to_enum = False

    @classmethod
    def get_queryset(cls, queryset, info):
        return within(queryset, selectors.clients_for(viewer(info)))

    @staticmethod
    def resolve_is_subscribed(root: Client, info) -> bool:
        return root.is_subscribed

    @staticmethod
    def resolve_tags(root: Client, info) -> Deferred:
        return TagsByClientLoader.of(info).load(root.pk)

    @staticmethod
    def resolve_bounces(root: Client, info, limit: int = 20) -> list[Bounce]:
        if not 1 <= limit <= 100:
            raise graphql_error(_("limit must be between 1 and 100."), BAD_REQUEST)
        return list(selectors.client_bounces(viewer(info), root)[:limit])


ClientConnection = ClientType._meta.connection


# --- messages -------------------------------------------------------------------------------------------


class MessageType(ModelType):
    """What a mailing sends (R-DATA-2): only its owner reads it."""

    class Meta:
        model = Message
        name = "Message"
        interfaces = (graphene.relay.Node,)
        connection_class = CountableConnection
        fields = ("id", "subject", "body", "html_body", "created_at", "updated_at")

    @classmethod
    def get_queryset(cls, queryset, info):
        return within(queryset, selectors.messages_for(viewer(info)))


MessageConnection = MessageType._meta.connection


class MessageSummary(graphene.ObjectType):
    """A mailing's message as anyone who may see the mailing sees it: its ID and subject, not its text
    (the owner reads the text through `messages` or `node(id:)`)."""

    id = graphene.ID(required=True, description="The Message's global ID.")
    subject = graphene.String(required=True)

    @staticmethod
    def resolve_id(root: Message, info) -> str:
        return to_global_id("Message", root.pk)

    @staticmethod
    def resolve_subject(root: Message, info) -> str:
        return root.subject


# --- mailings -------------------------------------------------------------------------------------------


class MailingOwner(graphene.ObjectType):
    """Whose mailing it is (for managers' lists; an owner sees themselves)."""

    id = graphene.ID(required=True, description="The owner's ManagedUser global ID (for blockUser).")
    email = graphene.String(required=True)
    full_name = graphene.String(required=True)
    is_blocked = graphene.Boolean(required=True)

    @staticmethod
    def resolve_id(root, info) -> str:
        return to_global_id("ManagedUser", root.pk)

    @staticmethod
    def resolve_email(root, info) -> str:
        return root.email

    @staticmethod
    def resolve_full_name(root, info) -> str:
        return root.get_full_name()

    @staticmethod
    def resolve_is_blocked(root, info) -> bool:
        return root.is_blocked


class LazyClientPage:
    """A `ClientConnection` value whose `totalCount` comes from the page's batch count and whose edges are
    queried only if the query selects them (one query per mailing then: a list of client lists is rare)."""

    def __init__(self, make_queryset, length: int, args: dict) -> None:
        # A function, not a queryset: building a queryset per mailing costs more than the rest of a list's
        # node, and a list asking only for totalCount never needs it.
        self.make_queryset = make_queryset
        self.length = length
        self.args = args

    @cached_property
    def _connection(self):
        if self.args.get("first") is None and self.args.get("last") is None:
            self.args = {**self.args, "first": max_page_size()}
        start = min(get_offset_with_default(self.args.get("after"), -1) + 1, self.length)
        return connection_from_array_slice(
            self.make_queryset()[start:],
            self.args,
            slice_start=start,
            array_length=self.length,
            array_slice_length=self.length - start,
            connection_type=partial(connection_adapter, ClientConnection),
            edge_type=ClientConnection.Edge,
            page_info_type=page_info_adapter,
        )

    @property
    def edges(self) -> list:
        return self._connection.edges

    @property
    def page_info(self) -> PageInfo:
        return self._connection.page_info


class MailingType(ModelType):
    """A schedule that sends one message to a set of clients (R-DATA-3). Times are UTC; `timeZone` is the
    zone whose local time the occurrences keep."""

    message = graphene.Field(MessageSummary, required=True)
    clients = graphene.Field(
        ClientConnection,
        required=True,
        first=graphene.Int(),
        after=graphene.String(),
        last=graphene.Int(),
        before=graphene.String(),
        description="The mailing's chosen clients that you may list (used when audience is CLIENTS): all of "
        "them for the owner, none for a manager looking at someone else's mailing (R-AUTH-5; see "
        "clientCount and audienceSize).",
    )
    client_count = graphene.Int(
        required=True,
        description="How many clients were chosen for the mailing (its audience when audience is CLIENTS; "
        "visible to managers too).",
    )
    audience = graphene.Field(MailingAudience, required=True, description="Who the mailing goes to.")
    tag_match = graphene.Field(
        MailingTagMatch, required=True, description="With audience TAGS: any or all of `tags`."
    )
    tags = graphene.List(
        graphene.NonNull(TagType),
        required=True,
        description="The tags the mailing goes to (with audience TAGS), by name; empty for a manager looking "
        "at someone else's mailing.",
    )
    audience_size = graphene.Int(
        required=True,
        description="How many clients an occurrence would go to if it started now: the audience's subscribed "
        "clients (visible to managers too).",
    )
    periodicity = graphene.Field(MailingPeriodicity, required=True)
    status = graphene.Field(MailingStatus, required=True)
    is_active = graphene.Boolean(required=True, description="False once a manager disabled the mailing.")
    upcoming = graphene.List(
        graphene.NonNull(graphene.DateTime),
        required=True,
        limit=graphene.Int(required=True, default_value=5, description=f"1 to {UPCOMING_MAX}."),
        description="The next scheduled occurrences after now (empty when nothing is left).",
    )
    last_occurrence = graphene.Field(
        "backend.api.reports.types.OccurrenceType",
        description="The latest occurrence with its counts, if any.",
    )
    owner = graphene.Field(MailingOwner, required=True)
    sender = graphene.Field(
        "backend.api.senders.types.SenderIdentityType",
        description="The sender chosen (R-DLV-1); null for none. When it is not `usable`, the mail goes from "
        "the service's address with the owner's name. Null for a viewer who may not see it.",
    )

    class Meta:
        model = Mailing
        name = "Mailing"
        interfaces = (graphene.relay.Node,)
        connection_class = CountableConnection
        fields = (
            "id",
            "name",
            "start_at",
            "end_at",
            "time_zone",
            "paused_at",
            "disabled_at",
            "next_run_at",
            "tracking",
            "created_at",
            "updated_at",
        )
        convert_choices_to_enum = False

    @classmethod
    def get_queryset(cls, queryset, info):
        return within(queryset, selectors.mailings_for(viewer(info)))

    @staticmethod
    def resolve_message(root: Mailing, info) -> Message:
        return root.message

    @staticmethod
    def resolve_owner(root: Mailing, info):
        user = viewer(info)
        return user if root.owner_id == user.pk else root.owner  # one's own list does not join the owner

    @staticmethod
    def resolve_sender(root: Mailing, info):
        return SenderByIdLoader.of(info).load(root.sender_id) if root.sender_id else None

    @staticmethod
    def resolve_tags(root: Mailing, info) -> Deferred:
        return TagsByMailingLoader.of(info).load(root.pk)

    @staticmethod
    def resolve_audience_size(root: Mailing, info) -> Deferred:
        return AudienceSizeLoader.of(info).load(root)

    @staticmethod
    def resolve_client_count(root: Mailing, info) -> int | Deferred:
        total = getattr(root, "clients_total", None)  # a list's rows carry it (list_figures)
        if total is not None:
            return total
        return ClientCountsByMailingLoader.of(info).load(root.pk).then(lambda counts: counts.total)

    @staticmethod
    def resolve_clients(root: Mailing, info, **args) -> LazyClientPage | Deferred:
        if args:
            check_page_args(args)
        user = viewer(info)

        def make_queryset():
            return ordered(
                selectors.clients_for(user).filter(mailings=root), ClientOrder.FULL_NAME, "full_name"
            )

        visible = getattr(root, "clients_visible", None)  # a list's rows carry it (list_figures)
        if visible is not None:
            return LazyClientPage(make_queryset, visible, args)
        counts = ClientCountsByMailingLoader.of(info).load(root.pk)
        return counts.then(lambda counts: LazyClientPage(make_queryset, counts.visible, args))

    @staticmethod
    def resolve_upcoming(root: Mailing, info, limit: int) -> list:
        if not 1 <= limit <= UPCOMING_MAX:
            raise graphql_error(
                _("limit must be between 1 and %(max)d.") % {"max": UPCOMING_MAX}, BAD_REQUEST
            )
        return root.upcoming(after=timezone.now(), limit=limit)

    @staticmethod
    def resolve_last_occurrence(root: Mailing, info) -> Occurrence | Deferred | None:
        if hasattr(root, "last_occurrence_id") and selected(info) <= LAST_FROM_LIST:
            return _last_occurrence_from_list(root)
        loader = LastOccurrenceByMailingLoader.of(info, stats_selected(info))

        def with_mailing(occurrence):
            if occurrence is not None:
                occurrence.mailing = root  # loaded without it: its `mailing` is this one, not a query
            return occurrence

        return loader.load(root.pk).then(with_mailing)


MailingConnection = MailingType._meta.connection

# What a list's rows can answer of `lastOccurrence` from their own query (`selectors.with_list_figures`):
# its ID and counts; anything else (its dates, its attempt times) is loaded.
LAST_FROM_LIST = frozenset({"id", "mailing", "__typename", *COUNT_STATS})


def list_figures(info) -> dict:
    """What the rows of a mailing list (`edges { node }` of the field being resolved) read beyond their
    columns, as `selectors.with_list_figures` arguments: the list's one query then carries it, instead of
    a loader's query per figure."""
    rows = children(info, fields_at(info, ("edges", "node")))
    names = {row.name.value for row in rows}
    figures: dict = {"clients_total": "clientCount" in names, "clients_visible": "clients" in names}
    last = {
        field.name.value for field in children(info, [r for r in rows if r.name.value == "lastOccurrence"])
    }
    if any(row.name.value == "lastOccurrence" for row in rows) and last <= LAST_FROM_LIST:
        figures["last_counts"] = frozenset(COUNT_STATS[name] for name in last if name in COUNT_STATS)
    return figures


def _last_occurrence_from_list(root: Mailing) -> Occurrence | None:
    """The latest occurrence of a list's row, from the figures the row carries: its ID and counts (its
    other columns are deferred, so reading one would load it: `LAST_FROM_LIST` keeps that from happening)."""
    if root.last_occurrence_id is None:
        return None
    loaded = {"id": root.last_occurrence_id, "mailing_id": root.pk}
    for name in COUNT_STATS.values():
        value = getattr(root, f"last_{name}", None)
        if value is not None:
            loaded[name] = value
    occurrence = partial_row(Occurrence, root._state.db, loaded)
    Occurrence.mailing.field.set_cached_value(occurrence, root)
    return occurrence
