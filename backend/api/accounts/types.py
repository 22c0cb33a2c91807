"""Users in the API: `User` is the signed-in user (`me`); `ManagedUser` is a user as a manager's list shows
them (R-AUTH-5). A `User` node is visible to that user alone, a `ManagedUser` node to those `users_for` lets
see the list (managers, superusers)."""

import graphene
from graphene_django import DjangoObjectType
from graphql_relay import to_global_id

from backend.accounts import roles, selectors
from backend.accounts.models import User
from backend.mailings import limits

from ..core.dataloaders import Deferred
from ..core.pagination import CountableConnection
from .dataloaders import ManagerPermissionLoader, SentTodayLoader


class _OneTypePerNode:
    """`User` and `ManagedUser` are two types of one model, and graphene-django would type every User
    instance that `node(id:)` returns as whichever of them comes first. `get_node` marks the instance with
    the type it was looked up as, and only that type claims it; unmarked instances (a connection's nodes, a
    payload's field) have their type from the field."""

    @classmethod
    def get_node(cls, info, id):
        user = super().get_node(info, id)
        if user is not None:
            user.graphql_type_name = cls._meta.name
        return user

    @classmethod
    def is_type_of(cls, root, info) -> bool:
        claimed = getattr(root, "graphql_type_name", cls._meta.name)
        return claimed == cls._meta.name and super().is_type_of(root, info)


# One meaning wherever a user type has the field: `roles.is_manager`.
IS_MANAGER = (
    "Was given the managers' role (to view every mailing), directly or through a group, blocked or not. A "
    "superuser is not a manager unless given the role too, yet may do all a manager may: see isSuperuser."
)


class SendingFields(graphene.ObjectType):
    """A user's sending limits (R-DLV-5), the same fields on `User` (oneself) and `ManagedUser`."""

    send_quota_daily = graphene.Int(
        description="Messages the user may hand to the server per day (their own day); null: no limit."
    )
    send_quota_override = graphene.Int(
        description="The quota a manager set for this user (0: no limit); null: the default applies."
    )
    sent_today = graphene.Int(required=True, description="Messages handed to the server today, their day.")
    sending_paused_at = graphene.DateTime(
        description="When sending was paused for a manager's review; null when the user sends."
    )
    sending_paused_reason = graphene.String(required=True, description="Why; empty when not paused.")

    @staticmethod
    def resolve_send_quota_daily(root: User, info) -> int | None:
        return limits.daily_quota(root)

    @staticmethod
    def resolve_send_quota_override(root: User, info) -> int | None:
        return root.send_quota_daily

    @staticmethod
    def resolve_sending_paused_at(root: User, info):
        return root.sending_paused_at

    @staticmethod
    def resolve_sending_paused_reason(root: User, info) -> str:
        return root.sending_paused_reason


class UserType(_OneTypePerNode, DjangoObjectType):
    """The signed-in user (`me`)."""

    full_name = graphene.String(required=True)
    time_zone = graphene.String(required=True, description="IANA name; times are shown in it.")
    is_manager = graphene.Boolean(required=True, description=IS_MANAGER)
    can_manage_users = graphene.Boolean(required=True, description="May list users (`users`).")
    can_block_users = graphene.Boolean(required=True, description="May block and unblock users.")
    can_view_all_mailings = graphene.Boolean(
        required=True, description="May view every owner's mailings (`allMailings`): managers and superusers."
    )
    can_review_senders = graphene.Boolean(
        required=True, description="May see `needsReview`, resume or block senders and set quotas."
    )
    send_quota_daily = SendingFields.send_quota_daily
    send_quota_override = SendingFields.send_quota_override
    sent_today = SendingFields.sent_today
    sending_paused_at = SendingFields.sending_paused_at
    sending_paused_reason = SendingFields.sending_paused_reason
    resolve_send_quota_daily = SendingFields.resolve_send_quota_daily
    resolve_send_quota_override = SendingFields.resolve_send_quota_override
    resolve_sending_paused_at = SendingFields.resolve_sending_paused_at
    resolve_sending_paused_reason = SendingFields.resolve_sending_paused_reason

    class Meta:
        model = User
        name = "User"
        fields = (
            "id",
            "email",
            "first_name",
            "last_name",
            "date_joined",
            "email_verified",
            "phone",
            "phone_verified_at",
            "is_superuser",
        )
        interfaces = (graphene.relay.Node,)

    @classmethod
    def get_queryset(cls, queryset, info):
        # A user is visible as a node only to themselves; the manager operations have their own type.
        user = info.context.user
        return queryset.filter(pk=user.pk) if user.is_authenticated else queryset.none()

    @staticmethod
    def resolve_full_name(root: User, info) -> str:
        return root.get_full_name()

    @staticmethod
    def resolve_is_manager(root: User, info) -> bool:
        return roles.is_manager(root)

    @staticmethod
    def resolve_can_manage_users(root: User, info) -> bool:
        return roles.sees_all_users(root)

    @staticmethod
    def resolve_can_block_users(root: User, info) -> bool:
        return roles.may_block_users(root)

    @staticmethod
    def resolve_can_view_all_mailings(root: User, info) -> bool:
        return roles.sees_all_mailings(root)

    @staticmethod
    def resolve_can_review_senders(root: User, info) -> bool:
        return roles.may_block_users(root)

    @staticmethod
    def resolve_sent_today(root: User, info) -> int:
        return limits.sent_today(root)


class UserSummary(graphene.ObjectType):
    """Who did something (a block), as a manager's list names them."""

    id = graphene.ID(required=True, description="The user's ManagedUser global ID.")
    email = graphene.String(required=True)
    full_name = graphene.String(required=True)

    @staticmethod
    def resolve_id(root: User, info) -> str:
        return to_global_id("ManagedUser", root.pk)

    @staticmethod
    def resolve_full_name(root: User, info) -> str:
        return root.get_full_name()


class ManagedUserType(_OneTypePerNode, DjangoObjectType):
    """A user as managers and superusers see them in the list (R-AUTH-5, R-UI-8): who they are, whether they
    may sign in, who blocked them and why, how many mailings they have."""

    full_name = graphene.String(required=True)
    blocked_by = graphene.Field(UserSummary, description="Who blocked the user; null when not blocked.")
    mailings_count = graphene.Int(required=True, description="Mailings the user owns.")
    is_manager = graphene.Boolean(required=True, description=IS_MANAGER)
    send_quota_daily = SendingFields.send_quota_daily
    send_quota_override = SendingFields.send_quota_override
    sent_today = SendingFields.sent_today
    sending_paused_at = SendingFields.sending_paused_at
    sending_paused_reason = SendingFields.sending_paused_reason
    resolve_send_quota_daily = SendingFields.resolve_send_quota_daily
    resolve_send_quota_override = SendingFields.resolve_send_quota_override
    resolve_sending_paused_at = SendingFields.resolve_sending_paused_at
    resolve_sending_paused_reason = SendingFields.resolve_sending_paused_reason

    class Meta:
        model = User
        name = "ManagedUser"
        interfaces = (graphene.relay.Node,)
        connection_class = CountableConnection
        fields = (
            "id",
            "email",
            "first_name",
            "last_name",
            "date_joined",
            "last_login",
            "email_verified",
            "is_active",
            "is_blocked",
            "blocked_at",
            "blocked_reason",
            "is_superuser",
        )

    @classmethod
    def get_queryset(cls, queryset, info):
        # A node lookup passes the model's manager, hence `.all()`.
        return queryset.all() & selectors.users_for(info.context.user)

    @staticmethod
    def resolve_full_name(root: User, info) -> str:
        return root.get_full_name()

    @staticmethod
    def resolve_blocked_by(root: User, info) -> User | None:
        return root.blocked_by if root.is_blocked else None

    @staticmethod
    def resolve_mailings_count(root: User, info) -> int:
        # users_for annotates it; a node fetched alone (node(id:), a mutation's payload) is counted here.
        count = getattr(root, "mailings_count", None)
        return count if count is not None else root.mailings.count()

    @staticmethod
    def resolve_is_manager(root: User, info) -> Deferred:
        return ManagerPermissionLoader.of(info).load(root.pk)

    @staticmethod
    def resolve_sent_today(root: User, info) -> Deferred:
        return SentTodayLoader.of(info).load(root.pk)


class SenderReview(graphene.ObjectType):
    """A paused sender waiting for a manager (R-DLV-5): who, since when, why, and the figures the pause was
    decided on (their last sends from their last resume on)."""

    user = graphene.Field(ManagedUserType, required=True)
    paused_at = graphene.DateTime(required=True)
    reason = graphene.String(required=True)
    sent = graphene.Int(required=True, description="Sent messages the figures are of.")
    bounced = graphene.Int(required=True, description="Of those, bounced after acceptance.")
    complaints = graphene.Int(required=True, description="Of those, reported as spam.")
    bounce_rate = graphene.Float(required=True, description="bounced / sent (0..1).")
    complaint_rate = graphene.Float(required=True, description="complaints / sent (0..1).")
    paused_by = graphene.Field(UserSummary, description="The manager who paused; null: the automatic review.")

    @staticmethod
    def from_decision(user: User, decision) -> "SenderReview":
        figures = decision.figures if decision is not None else {}
        return SenderReview(
            user=user,
            paused_at=user.sending_paused_at,
            reason=user.sending_paused_reason,
            sent=int(figures.get("sent", 0)),
            bounced=int(figures.get("bounced", 0)),
            complaints=int(figures.get("complaints", 0)),
            bounce_rate=float(figures.get("bounce_rate", 0.0)),
            complaint_rate=float(figures.get("complaint_rate", 0.0)),
            paused_by=decision.actor if decision is not None else None,
        )


ManagedUserConnection = ManagedUserType._meta.connection
