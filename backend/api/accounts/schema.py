import graphene
import graphql_jwt

from ..core.auth import require_user
from .types import UserType


class AccountsQuery(graphene.ObjectType):
    me = graphene.Field(UserType, required=True, description="The signed-in user.")

    @staticmethod
    def resolve_me(root, info):
        return require_user(info)


class AccountsMutation(graphene.ObjectType):
    token_auth = graphql_jwt.ObtainJSONWebToken.Field()
    verify_token = graphql_jwt.Verify.Field()
    refresh_token = graphql_jwt.Refresh.Field()
    revoke_token = graphql_jwt.Revoke.Field()
