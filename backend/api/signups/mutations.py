"""Writes on sign-up forms (R-ENG-1): each looks its form up through the owner-scoped selector (another
owner's ID is NOT_FOUND) and calls the service with `actor=user`; the form (`SignupFormForm`) validates."""

import graphene

from backend.accounts.models import User
from backend.mailings import selectors, services
from backend.mailings.models import SignupForm

from ..core.ids import pk_from_global_id, pks_from_global_ids
from ..core.mutations import BaseMutation
from .types import SignupFormType


class SignupFormInput(graphene.InputObjectType):
    name = graphene.String(required=True, description="For you; visitors do not see it.")
    title = graphene.String(required=True, description="The page's heading.")
    description = graphene.String(default_value="", description="Text above the form.")
    consent_text = graphene.String(required=True, description="What the visitor agrees to; recorded.")
    thank_you_text = graphene.String(required=True, description="Shown after the confirmation.")
    tag_ids = graphene.List(graphene.NonNull(graphene.ID), default_value=[], description="Your tags.")
    sender_id = graphene.ID(description="One of your usable senders; empty: the default.")
    is_active = graphene.Boolean(default_value=True, description="Accepting sign-ups.")


def _data(data) -> dict:
    values = {
        "name": data.name,
        "title": data.title,
        "description": data.description or "",
        "consent_text": data.consent_text,
        "thank_you_text": data.thank_you_text,
        "tags": pks_from_global_ids(data.tag_ids or [], "Tag"),
        "is_active": bool(data.is_active),
    }
    if data.sender_id:
        values["sender"] = pks_from_global_ids([data.sender_id], "SenderIdentity")[0]
    return values


def _form(user: User, global_id: str) -> SignupForm:
    return selectors.signup_forms_for(user).get(pk=pk_from_global_id(global_id, "SignupForm"))


class CreateSignupForm(BaseMutation):
    """Add a public sign-up form. Another owner's tag or sender is `invalid_choice`."""

    class Arguments:
        input = SignupFormInput(required=True)

    signup_form = graphene.Field(SignupFormType)

    @classmethod
    def perform(cls, info, user: User, input):
        return cls(signup_form=services.signup_form_create(actor=user, data=_data(input)), errors=[])


class UpdateSignupForm(BaseMutation):
    """Change one of your forms (every field, as on the page). Links mailed before a change of the consent
    text stop confirming."""

    class Arguments:
        id = graphene.ID(required=True)
        input = SignupFormInput(required=True)

    signup_form = graphene.Field(SignupFormType)

    @classmethod
    def perform(cls, info, user: User, id, input):
        signup_form = services.signup_form_update(actor=user, signup_form=_form(user, id), data=_data(input))
        return cls(signup_form=signup_form, errors=[])


class DeleteSignupForm(BaseMutation):
    """Delete one of your forms; the clients it brought and their consents stay."""

    class Arguments:
        id = graphene.ID(required=True)

    deleted_id = graphene.ID()

    @classmethod
    def perform(cls, info, user: User, id):
        services.signup_form_delete(actor=user, signup_form=_form(user, id))
        return cls(deleted_id=id, errors=[])
