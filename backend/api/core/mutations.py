"""The base of every mutation: it requires a user that can act, runs `perform`, and turns the domain's
ValidationErrors into `errors { field message code }` in the payload (Saleor's pattern; STYLE.md). Permission
and not-found errors leave as GraphQL errors without data (core.errors.format_error)."""

import graphene
from django.core.exceptions import ValidationError

from backend.accounts.models import User

from .auth import require_user
from .errors import Error, errors_from


class BaseMutation(graphene.Mutation):
    class Meta:
        abstract = True

    errors = graphene.List(
        graphene.NonNull(Error),
        required=True,
        description="Empty on success; otherwise what to fix, per input field.",
    )

    # True for the few mutations an anonymous caller may run (tokenAuth, refreshToken, verifyToken).
    public = False

    @classmethod
    def mutate(cls, root, info, **data):
        user = info.context.user if cls.public else require_user(info)
        try:
            return cls.perform(info, user, **data)
        except ValidationError as exc:
            return cls(errors=errors_from(exc))

    @classmethod
    def perform(cls, info, user: User, **data):
        raise NotImplementedError

    @staticmethod
    def resolve_errors(root, info) -> list:
        return root.errors or []
