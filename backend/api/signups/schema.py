"""Queries and mutations on sign-up forms (R-ENG-1): `signupForms` are the caller's own
(`selectors.signup_forms_for`)."""

import graphene

from backend.mailings import selectors

from ..core.auth import require_user
from ..core.pagination import PageConnectionField
from .mutations import CreateSignupForm, DeleteSignupForm, UpdateSignupForm
from .types import SignupFormType


class SignupsQuery(graphene.ObjectType):
    signup_forms = PageConnectionField(SignupFormType, description="Your sign-up forms, newest first.")

    @staticmethod
    def resolve_signup_forms(root, info, **_page):
        return (
            selectors.signup_forms_for(require_user(info))
            .select_related("sender", "sender__owner")
            .prefetch_related("tags")
            .order_by("-created_at", "-pk")
        )


class SignupsMutation(graphene.ObjectType):
    create_signup_form = CreateSignupForm.Field()
    update_signup_form = UpdateSignupForm.Field()
    delete_signup_form = DeleteSignupForm.Field()
