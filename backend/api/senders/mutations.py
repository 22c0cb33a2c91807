"""Writes on sender identities and domains (R-DLV-1, R-DLV-2): each looks its object up through an
owner-scoped selector (another owner's ID is NOT_FOUND) and calls the service with `actor=user`."""

import graphene

from backend.accounts.models import User
from backend.mailings import selectors, services
from backend.mailings.models import SenderDomain, SenderIdentity

from ..core.ids import pk_from_global_id
from ..core.mutations import BaseMutation
from .types import SenderAlgorithm, SenderDomainType, SenderIdentityType


class SenderIdentityInput(graphene.InputObjectType):
    from_name = graphene.String(required=True, description="One line.")
    from_email = graphene.String(required=True, description="A confirmation link is mailed to it.")
    reply_to = graphene.String(default_value="", description="Optional.")


def _identity_data(data) -> dict:
    return {"from_name": data.from_name, "from_email": data.from_email, "reply_to": data.reply_to or ""}


def _identity(user: User, global_id: str) -> SenderIdentity:
    return selectors.sender_identities_for(user).get(pk=pk_from_global_id(global_id, "SenderIdentity"))


def _domain(user: User, global_id: str) -> SenderDomain:
    return selectors.sender_domains_for(user).get(pk=pk_from_global_id(global_id, "SenderDomain"))


class _IdentityPayload:
    sender_identity = graphene.Field(SenderIdentityType)
    confirmation_sent = graphene.Boolean(
        description="Whether a confirmation link was just mailed (false when none was needed or the mail "
        "server refused it: resendSenderConfirmation)."
    )


class CreateSenderIdentity(_IdentityPayload, BaseMutation):
    """Add a sender; a confirmation link is mailed to its address (unless its domain is verified).
    `duplicate_sender` when you have one with that address; TOO_MANY_REQUESTS past the links per hour."""

    class Arguments:
        input = SenderIdentityInput(required=True)

    @classmethod
    def perform(cls, info, user: User, input):
        identity = services.sender_create(actor=user, data=_identity_data(input))
        return cls(
            sender_identity=identity, confirmation_sent=identity.confirmation_sent_at is not None, errors=[]
        )


class UpdateSenderIdentity(_IdentityPayload, BaseMutation):
    """Change one of your senders; a new address is unconfirmed until its own link is followed.
    `sender_revoked` for one a manager revoked."""

    class Arguments:
        id = graphene.ID(required=True)
        input = SenderIdentityInput(required=True)

    @classmethod
    def perform(cls, info, user: User, id, input):
        identity = _identity(user, id)
        was_sent = identity.confirmation_sent_at
        identity = services.sender_update(actor=user, identity=identity, data=_identity_data(input))
        sent = identity.confirmation_sent_at is not None and identity.confirmation_sent_at != was_sent
        return cls(sender_identity=identity, confirmation_sent=sent, errors=[])


class DeleteSenderIdentity(BaseMutation):
    """Delete one of your senders; its mailings go from the service's address. `sender_revoked` for one a
    manager revoked (it stays on record)."""

    class Arguments:
        id = graphene.ID(required=True)

    deleted_id = graphene.ID()

    @classmethod
    def perform(cls, info, user: User, id):
        services.sender_delete(actor=user, identity=_identity(user, id))
        return cls(deleted_id=id, errors=[])


class ResendSenderConfirmation(_IdentityPayload, BaseMutation):
    """Mail a new confirmation link (the previous one stops working). `sender_confirmed`,
    `sender_revoked`, `confirmation_not_sent` (the mail server refused)."""

    class Arguments:
        id = graphene.ID(required=True)

    @classmethod
    def perform(cls, info, user: User, id):
        identity = services.sender_send_confirmation(actor=user, identity=_identity(user, id))
        return cls(sender_identity=identity, confirmation_sent=True, errors=[])


class RevokeSenderIdentity(BaseMutation):
    """A manager's decision: the sender is never used again; its owner sees `reason`. Anyone else is
    FORBIDDEN (their own sender) or NOT_FOUND (another owner's)."""

    class Arguments:
        id = graphene.ID(required=True)
        reason = graphene.String(required=True)

    sender_identity = graphene.Field(SenderIdentityType)

    @classmethod
    def perform(cls, info, user: User, id, reason):
        identity = selectors.visible_sender_identities(user).get(pk=pk_from_global_id(id, "SenderIdentity"))
        identity = services.sender_revoke(actor=user, identity=identity, reason=reason)
        return cls(sender_identity=identity, errors=[])


class SenderDomainInput(graphene.InputObjectType):
    domain = graphene.String(required=True, description="e.g. example.com")
    algorithm = SenderAlgorithm(description="RSA (RSA-2048) when left out.")


class AddSenderDomain(BaseMutation):
    """Add a domain: a DKIM key pair and selector are generated; publish `dnsRecordName`/`dnsRecordValue`
    as a TXT record, then checkSenderDomain. `invalid_domain`, `duplicate_domain`."""

    class Arguments:
        input = SenderDomainInput(required=True)

    sender_domain = graphene.Field(SenderDomainType)

    @classmethod
    def perform(cls, info, user: User, input):
        data = {"domain": input.domain, "algorithm": getattr(input.algorithm, "value", input.algorithm) or ""}
        return cls(sender_domain=services.sender_domain_add(actor=user, data=data), errors=[])


class CheckSenderDomain(BaseMutation):
    """Look the domain's DKIM record up in DNS: `verified` when the published key matches; `checkResult`
    says what was found (a DNS failure is a result, not an error)."""

    class Arguments:
        id = graphene.ID(required=True)

    sender_domain = graphene.Field(SenderDomainType)

    @classmethod
    def perform(cls, info, user: User, id):
        return cls(
            sender_domain=services.sender_domain_check(actor=user, domain=_domain(user, id)), errors=[]
        )


class DeleteSenderDomain(BaseMutation):
    """Delete one of your domains and its key."""

    class Arguments:
        id = graphene.ID(required=True)

    deleted_id = graphene.ID()

    @classmethod
    def perform(cls, info, user: User, id):
        services.sender_domain_delete(actor=user, domain=_domain(user, id))
        return cls(deleted_id=id, errors=[])
