import graphene
from graphene_django import DjangoObjectType

from backend.accounts.models import User


class UserType(DjangoObjectType):
    """The signed-in user (`me`)."""

    full_name = graphene.String(required=True)
    time_zone = graphene.String(required=True, description="IANA name; times are shown in it.")
    is_manager = graphene.Boolean(required=True, description="May oversee every mailing and user.")

    class Meta:
        model = User
        name = "User"
        fields = ("id", "email", "first_name", "last_name", "date_joined", "email_verified")
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
        from backend.mailings.selectors import can_view_all_mailings

        return can_view_all_mailings(root)
