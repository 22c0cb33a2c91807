"""The signed-in user, signing in to the API, and the managers' user list.

- `me`: the caller.
- `users`: every user, for those `accounts.roles.sees_all_users` allows (managers, superusers); anyone
  else gets FORBIDDEN rather than an empty list, so a dashboard can tell "not allowed" from "no users".
- Mutations: see mutations.py.
"""

import graphene

from backend.accounts import selectors

from ..core.auth import require_user
from ..core.inputs import filter_args, filtered
from ..core.pagination import PageConnectionField
from ..mailings.types import ordered
from .mutations import BlockUser, RefreshToken, RevokeToken, TokenAuth, UnblockUser, VerifyToken
from .types import ManagedUserType, UserType


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
