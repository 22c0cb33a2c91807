"""Sign-up forms as Relay nodes (R-ENG-1): the caller's own only."""

import graphene
from graphql_relay import to_global_id

from backend.mailings import selectors
from backend.mailings.models import SignupForm
from backend.mailings.services import signups

from ..core.pagination import CountableConnection
from ..core.types import ModelType
from ..mailings.types import viewer, within
from ..senders.types import SenderIdentityType


class SignupFormType(ModelType):
    """A public sign-up form: its hosted page, the snippet to paste on your site, the tags a confirmed
    subscriber gets, who the confirmation mail comes from."""

    hosted_url = graphene.String(required=True, description="The hosted page; the snippet posts to it too.")
    snippet = graphene.String(required=True, description="The HTML form to paste on your own site.")
    tag_ids = graphene.List(
        graphene.NonNull(graphene.ID), required=True, description="The tags a confirmed subscriber gets."
    )
    sender = graphene.Field(SenderIdentityType, description="Empty: your first usable sender, else ours.")

    class Meta:
        model = SignupForm
        name = "SignupForm"
        interfaces = (graphene.relay.Node,)
        connection_class = CountableConnection
        fields = (
            "id",
            "public_id",
            "name",
            "title",
            "description",
            "consent_text",
            "thank_you_text",
            "is_active",
            "created_at",
            "updated_at",
        )

    @classmethod
    def get_queryset(cls, queryset, info):
        return within(queryset, selectors.signup_forms_for(viewer(info))).prefetch_related("tags")

    @staticmethod
    def resolve_hosted_url(root: SignupForm, info) -> str:
        return signups.hosted_url(root)

    @staticmethod
    def resolve_snippet(root: SignupForm, info) -> str:
        return signups.snippet(root)

    @staticmethod
    def resolve_tag_ids(root: SignupForm, info) -> list[str]:
        return [to_global_id("Tag", tag.pk) for tag in root.tags.all()]

    @staticmethod
    def resolve_sender(root: SignupForm, info):
        return root.sender if root.sender_id else None
