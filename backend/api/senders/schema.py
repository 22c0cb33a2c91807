"""Queries and mutations on sender identities and domains (R-DLV-1, R-DLV-2): `senderIdentities` and
`senderDomains` are the caller's own (`selectors.sender_identities_for` / `sender_domains_for`);
`allSenderIdentities` is every owner's for a manager (empty for anyone else)."""

import graphene

from backend.mailings import selectors

from ..core.auth import require_user
from ..core.pagination import PageConnectionField
from .mutations import (
    AddSenderDomain,
    CheckSenderDomain,
    CreateSenderIdentity,
    DeleteSenderDomain,
    DeleteSenderIdentity,
    ResendSenderConfirmation,
    RevokeSenderIdentity,
    UpdateSenderIdentity,
)
from .types import SenderDomainType, SenderIdentityType


class SendersQuery(graphene.ObjectType):
    sender_identities = PageConnectionField(SenderIdentityType, description="Your senders.")
    sender_domains = PageConnectionField(SenderDomainType, description="Your sending domains.")
    all_sender_identities = PageConnectionField(
        SenderIdentityType, description="Every owner's senders, newest first, for a manager; empty otherwise."
    )

    @staticmethod
    def resolve_sender_identities(root, info, **_page):
        return (
            selectors.sender_identities_for(require_user(info))
            .select_related("owner")
            .order_by("from_email", "pk")
        )

    @staticmethod
    def resolve_sender_domains(root, info, **_page):
        return selectors.sender_domains_for(require_user(info)).order_by("domain", "pk")

    @staticmethod
    def resolve_all_sender_identities(root, info, **_page):
        return selectors.all_sender_identities(require_user(info))


class SendersMutation(graphene.ObjectType):
    create_sender_identity = CreateSenderIdentity.Field()
    update_sender_identity = UpdateSenderIdentity.Field()
    delete_sender_identity = DeleteSenderIdentity.Field()
    resend_sender_confirmation = ResendSenderConfirmation.Field()
    revoke_sender_identity = RevokeSenderIdentity.Field()
    add_sender_domain = AddSenderDomain.Field()
    check_sender_domain = CheckSenderDomain.Field()
    delete_sender_domain = DeleteSenderDomain.Field()
