"""Sender identities and domains as Relay nodes (R-DLV-1, R-DLV-2).

An owner sees their own; a manager (`roles.may_revoke_senders`) sees every identity, to revoke one, but no
one's domains. A domain's private key is no field of any type: only its DNS record is.
"""

import graphene

from backend.mailings import selectors, services
from backend.mailings.models import SenderDomain, SenderIdentity

from ..core.pagination import CountableConnection
from ..core.types import ModelType
from ..mailings.types import MailingOwner, viewer, within


class SenderStatus(graphene.Enum):
    """Whether mail may come from an identity (selectors.usable_senders)."""

    AWAITING_CONFIRMATION = "awaiting"
    CONFIRMED = "confirmed"
    DOMAIN_VERIFIED = "domain"
    REVOKED = "revoked"


SenderAlgorithm = graphene.Enum.from_enum(
    SenderDomain.Algorithm, name="DkimAlgorithm", description="The key type of a sender domain's DKIM key."
)


def identity_status(identity: SenderIdentity) -> str:
    if identity.revoked_at is not None:
        return SenderStatus.REVOKED.value
    if identity.confirmed_at is not None:
        return SenderStatus.CONFIRMED.value
    usable = getattr(identity, "is_usable", None)  # annotated by get_queryset (selectors.with_usability)
    if usable is None:
        usable = selectors.usable_senders(identity.owner).filter(pk=identity.pk).exists()
    if usable:
        return SenderStatus.DOMAIN_VERIFIED.value
    return SenderStatus.AWAITING_CONFIRMATION.value


class SenderIdentityType(ModelType):
    """Who mail comes from: From name and address, optional Reply-To. Usable (`usable`) once confirmed by
    the link mailed to the address or when its domain is verified, never once a manager revoked it; a
    mailing with an unusable one is sent from the service's address with its owner's name."""

    status = graphene.Field(SenderStatus, required=True)
    usable = graphene.Boolean(required=True, description="Whether a mailing may be sent from it now.")
    owner = graphene.Field(MailingOwner, required=True)

    class Meta:
        model = SenderIdentity
        name = "SenderIdentity"
        interfaces = (graphene.relay.Node,)
        connection_class = CountableConnection
        fields = (
            "id",
            "from_name",
            "from_email",
            "reply_to",
            "confirmation_sent_at",
            "confirmed_at",
            "revoked_at",
            "revoked_reason",
            "created_at",
        )

    @classmethod
    def get_queryset(cls, queryset, info):
        return selectors.with_usability(within(queryset, selectors.visible_sender_identities(viewer(info))))

    @staticmethod
    def resolve_status(root: SenderIdentity, info) -> str:
        return identity_status(root)

    @staticmethod
    def resolve_usable(root: SenderIdentity, info) -> bool:
        return identity_status(root) in (SenderStatus.CONFIRMED.value, SenderStatus.DOMAIN_VERIFIED.value)

    @staticmethod
    def resolve_owner(root: SenderIdentity, info):
        return root.owner


class SenderDomainType(ModelType):
    """A domain mail is sent from, with the DKIM record to publish for it; verified once "check" found it."""

    algorithm = graphene.Field(SenderAlgorithm, required=True)
    dns_record_name = graphene.String(required=True, description="The TXT record's name.")
    dns_record_value = graphene.String(required=True, description="The TXT record's value.")
    verified = graphene.Boolean(required=True)

    class Meta:
        model = SenderDomain
        name = "SenderDomain"
        interfaces = (graphene.relay.Node,)
        connection_class = CountableConnection
        fields = (
            "id",
            "domain",
            "selector",
            "public_key",
            "verified_at",
            "checked_at",
            "check_result",
            "created_at",
        )

    @classmethod
    def get_queryset(cls, queryset, info):
        return within(queryset, selectors.sender_domains_for(viewer(info)))

    @staticmethod
    def resolve_algorithm(root: SenderDomain, info) -> str:
        return root.algorithm

    @staticmethod
    def resolve_dns_record_name(root: SenderDomain, info) -> str:
        return services.dns_record(root).name

    @staticmethod
    def resolve_dns_record_value(root: SenderDomain, info) -> str:
        return services.dns_record(root).value

    @staticmethod
    def resolve_verified(root: SenderDomain, info) -> bool:
        return root.verified_at is not None
