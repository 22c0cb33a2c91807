"""The signed-in user, signing in to the API, and the managers' user list.

- `me`: the caller.
- `users`: every user, for those `accounts.roles.sees_all_users` allows (managers, superusers); anyone
  else gets FORBIDDEN rather than an empty list, so a dashboard can tell "not allowed" from "no users".
- `needsReview`: paused senders with their figures, for those who may block users (R-DLV-5).
- Mutations: see mutations.py.
"""

import graphene

from backend.accounts import selectors
from backend.mailings import limits

from ..core.auth import require_user
from ..core.inputs import filter_args, filtered
from ..core.pagination import PageConnectionField
from ..mailings.types import ordered
from .mutations import (
    BlockSender,
    BlockUser,
    RefreshToken,
    ResumeSending,
    RevokeToken,
    SetSendQuota,
    TokenAuth,
    UnblockUser,
    VerifyToken,
)
from .types import ManagedUserType, SenderReview, UserType


class UserOrder(graphene.Enum):
    """Sort orders of `users`; ties are broken by ID, so cursors stay stable."""

    EMAIL = "email"
    EMAIL_DESC = "-email"
    DATE_JOINED = "date_joined"
    DATE_JOINED_DESC = "-date_joined"
    BLOCKED_AT_DESC = "-blocked_at"


class AccountsQuery(graphene.ObjectType):
    me = graphene.Field(UserType, required=True, description="The signed-in user.")
    users = PageConnectionField(
        ManagedUserType,
        search=graphene.String(description="Words that must each be in the email or the name, any case."),
        blocked=graphene.Boolean(description="true: only blocked users; false: only the others."),
        verified=graphene.Boolean(description="true: only users who confirmed their email; false: the rest."),
        order_by=graphene.Argument(graphene.NonNull(UserOrder), default_value=UserOrder.EMAIL.value),
        description="Every user, for managers and superusers (R-AUTH-5); FORBIDDEN for anyone else.",
    )

    needs_review = graphene.List(
        graphene.NonNull(SenderReview),
        required=True,
        description=(
            "Senders whose sending is paused (automatically, on their bounce or complaint rate) and who are "
            "not blocked, longest waiting first, with the figures of the pause: for managers and superusers "
            "who may block users (R-DLV-5); FORBIDDEN for anyone else."
        ),
    )

    @staticmethod
    def resolve_needs_review(root, info):
        actor = require_user(info)
        return [SenderReview.from_decision(user, decision) for user, decision in limits.needs_review(actor)]

    @staticmethod
    def resolve_me(root, info):
        return require_user(info)

    @staticmethod
    def resolve_users(root, info, search=None, blocked=None, verified=None, order_by=None, **_page):
        actor = require_user(info)
        users = filtered(
            selectors.user_list(actor, filter_args(search=search, blocked=blocked, verified=verified))
        )
        return ordered(users, order_by, UserOrder.EMAIL.value)


class AccountsMutation(graphene.ObjectType):
    token_auth = TokenAuth.Field()
    refresh_token = RefreshToken.Field()
    verify_token = VerifyToken.Field()
    revoke_token = RevokeToken.Field()
    block_user = BlockUser.Field()
    unblock_user = UnblockUser.Field()
    resume_sending = ResumeSending.Field()
    block_sender = BlockSender.Field()
    set_send_quota = SetSendQuota.Field()
