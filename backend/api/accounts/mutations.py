"""Signing in to the API and the managers' blocking.

`tokenAuth` is the login page's login: the same form (`EmailAuthenticationForm`), hence the same
`authenticate(request, ...)` with this very request, so django-axes and the throttling policy
(backend/accounts/throttling.py) count and lock a token sign-in exactly like a page login, and the same
texts for a wrong password, an unverified and a blocked account. A success sends `user_logged_in`, as
`django.contrib.auth.login` does for the page, so the pair's earlier failures are forgiven.

Errors: a wrong, expired or revoked credential is a GraphQL error with code UNAUTHENTICATED; a throttled
sign-in TOO_MANY_REQUESTS with `retryAfter` (seconds); input the caller can fix (an empty or malformed email,
a blank block reason) comes back in the payload's `errors`.
"""

import datetime as dt
import math

import graphene
from axes.helpers import get_cool_off
from django.contrib.auth.signals import user_logged_in
from django.core.exceptions import ValidationError
from django.utils.translation import ngettext
from graphene.types.generic import GenericScalar
from graphql_jwt.exceptions import JSONWebTokenError
from graphql_jwt.settings import jwt_settings
from graphql_jwt.utils import get_payload

from backend.accounts import selectors, services
from backend.accounts.forms import BlockReasonForm, EmailAuthenticationForm
from backend.accounts.models import User
from backend.mailings import services as mailing_services

from ..core.auth import user_for_token
from ..core.errors import TOO_MANY_REQUESTS, UNAUTHENTICATED, NotFound, graphql_error
from ..core.ids import pk_from_global_id
from ..core.mutations import BaseMutation
from .types import ManagedUserType, UserType

# --- tokens ---------------------------------------------------------------------------------------------


class TokenPayloadMixin:
    """What a sign-in and a refresh return: a new access token and a new refresh token."""

    token = graphene.String(description="The access token: send it as `Authorization: JWT <token>`.")
    token_expires_at = graphene.DateTime(
        description="When the access token stops working (JWT_ACCESS_TOKEN_SECONDS after issue)."
    )
    payload = GenericScalar(description="The access token's claims (email, exp, origIat, pwd).")
    refresh_token = graphene.String(
        description="Spend it once with refreshToken for a new pair; sign out with revokeToken."
    )
    refresh_token_expires_at = graphene.DateTime()
    user = graphene.Field(UserType)

    @classmethod
    def issue(cls, user: User, refresh_token, request):
        payload = jwt_settings.JWT_PAYLOAD_HANDLER(user, request)
        return cls(
            token=jwt_settings.JWT_ENCODE_HANDLER(payload, request),
            token_expires_at=dt.datetime.fromtimestamp(payload["exp"], dt.UTC),
            payload=payload,
            refresh_token=refresh_token.get_token(),
            refresh_token_expires_at=services.refresh_token_expires_at(refresh_token),
            user=user,
            errors=[],
        )


FIELDS = {"username": "email"}


def _locked_out_error(request):
    """The lockout as a GraphQL error. axes's middleware would replace any response to a request it marked
    locked out with the HTML lockout page, so the mark is taken off once it has become this error."""
    request.axes_locked_out = False
    seconds = math.ceil(get_cool_off(request).total_seconds())
    minutes = max(1, math.ceil(seconds / 60))
    message = ngettext(
        "Logins with this email, or from your network, are paused for up to %(minutes)s minute.",
        "Logins with this email, or from your network, are paused for up to %(minutes)s minutes.",
        minutes,
    ) % {"minutes": minutes}
    return graphql_error(message, TOO_MANY_REQUESTS, retryAfter=seconds)


class TokenAuth(TokenPayloadMixin, BaseMutation):
    """Sign in with email (any letter case) and password; counted and throttled like the login page."""

    public = True

    class Arguments:
        email = graphene.String(required=True)
        password = graphene.String(required=True)

    @classmethod
    def perform(cls, info, user, email: str, password: str):
        request = info.context
        form = EmailAuthenticationForm(request, data={"username": email, "password": password})
        if not form.is_valid():
            if getattr(request, "axes_locked_out", False):
                raise _locked_out_error(request)
            errors = form.errors.as_data()
            refusal = errors.pop("__all__", None)
            if errors:
                # The form calls the email "username", as Django's login form does.
                raise ValidationError({FIELDS.get(name, name): e for name, e in errors.items()})
            reason = refusal[0]
            raise graphql_error(str(reason.message), UNAUTHENTICATED, reason=reason.code)
        user = form.get_user()
        user_logged_in.send(sender=type(user), request=request, user=user)
        return cls.issue(user, services.refresh_token_issue(user=user), request)


class RefreshToken(TokenPayloadMixin, BaseMutation):
    """Spend a refresh token for a new access token and a new refresh token (the old one stops working).
    Refused once the refresh token expired or was revoked (revokeToken, a password change, a block) and
    while the account is blocked."""

    public = True

    class Arguments:
        refresh_token = graphene.String(required=True)

    @classmethod
    def perform(cls, info, user, refresh_token: str):
        try:
            new = services.refresh_token_rotate(token=refresh_token)
        except services.TokenRefused as exc:
            raise graphql_error(str(exc), UNAUTHENTICATED) from None
        return cls.issue(new.user, new, info.context)


class VerifyToken(BaseMutation):
    """Check an access token: its claims while it works for its account, UNAUTHENTICATED otherwise (expired,
    issued before a password change, the account blocked)."""

    public = True

    class Arguments:
        token = graphene.String(required=True)

    payload = GenericScalar()
    user = graphene.Field(UserType)

    @classmethod
    def perform(cls, info, user, token: str):
        try:
            holder = user_for_token(token)
        except JSONWebTokenError as exc:
            raise graphql_error(str(exc), UNAUTHENTICATED) from None
        return cls(payload=get_payload(token), user=holder, errors=[])


class RevokeToken(BaseMutation):
    """Sign an API client out: revoke one of your refresh tokens (NOT_FOUND for an unknown, revoked or
    another user's one). The access tokens already issued expire on their own within minutes."""

    class Arguments:
        refresh_token = graphene.String(required=True)

    revoked = graphene.DateTime(description="When it was revoked.")

    @classmethod
    def perform(cls, info, user, refresh_token: str):
        try:
            revoked = services.refresh_token_revoke(actor=user, token=refresh_token)
        except services.TokenRefused:
            raise NotFound() from None
        return cls(revoked=revoked.revoked, errors=[])


# --- managers: blocking (R-AUTH-5) -------------------------------------------------------------------------


class BlockUser(BaseMutation):
    """Block a user (managers, superusers): no sign-in, their sessions and API tokens stop working on their
    next request, their mailings stop sending. Refused (FORBIDDEN) for yourself, for a superuser unless you
    are one, and for anyone who may not manage users; an unknown ID is NOT_FOUND."""

    class Arguments:
        id = graphene.ID(required=True, description="A ManagedUser ID.")
        reason = graphene.String(required=True, description="Why; kept with the block.")

    user = graphene.Field(ManagedUserType)

    @classmethod
    def perform(cls, info, user: User, id: str, reason: str):
        target = selectors.user_get(user, pk_from_global_id(id, "ManagedUser"))
        form = BlockReasonForm(data={"reason": reason})
        if not form.is_valid():
            raise ValidationError(form.errors.as_data())
        return cls(
            user=services.user_block(actor=user, user=target, reason=form.cleaned_data["reason"]), errors=[]
        )


class UnblockUser(BaseMutation):
    """Lift a block (same rules as blockUser). The API tokens the block revoked stay revoked: the user
    signs in again."""

    class Arguments:
        id = graphene.ID(required=True, description="A ManagedUser ID.")

    user = graphene.Field(ManagedUserType)

    @classmethod
    def perform(cls, info, user: User, id: str):
        target = selectors.user_get(user, pk_from_global_id(id, "ManagedUser"))
        return cls(user=services.user_unblock(actor=user, user=target), errors=[])


# --- managers: the review of senders (R-DLV-5) -------------------------------------------------------


class ResumeSending(BaseMutation):
    """Lift the pause of a user's sending (managers, superusers): their mailings send again and their next
    review counts only what is sent from now on. Recorded with `reason` as a sending decision. FORBIDDEN for
    anyone who may not block users, for yourself, and for a superuser unless you are one; NOT_FOUND for an
    unknown ID; an error in the payload when their sending is not paused."""

    class Arguments:
        id = graphene.ID(required=True, description="A ManagedUser ID.")
        reason = graphene.String(description="Why; kept with the decision.")

    user = graphene.Field(ManagedUserType)

    @classmethod
    def perform(cls, info, user: User, id: str, reason: str | None = None):
        target = selectors.user_get(user, pk_from_global_id(id, "ManagedUser"))
        return cls(
            user=mailing_services.sending_resume(actor=user, user=target, reason=reason or ""), errors=[]
        )


class BlockSender(BaseMutation):
    """Block a paused sender after review (managers, superusers): as blockUser, and recorded as a sending
    decision with their figures. Same refusals as blockUser."""

    class Arguments:
        id = graphene.ID(required=True, description="A ManagedUser ID.")
        reason = graphene.String(required=True, description="Why; kept with the block and the decision.")

    user = graphene.Field(ManagedUserType)

    @classmethod
    def perform(cls, info, user: User, id: str, reason: str):
        target = selectors.user_get(user, pk_from_global_id(id, "ManagedUser"))
        return cls(user=mailing_services.sending_block(actor=user, user=target, reason=reason), errors=[])


class SetSendQuota(BaseMutation):
    """Set a user's daily sending quota (managers, superusers): a number of messages per day (0: no limit),
    or null to go back to the service's default. Recorded as a sending decision. Refusals as resumeSending;
    a negative or too large number comes back in the payload (field `quota`)."""

    class Arguments:
        id = graphene.ID(required=True, description="A ManagedUser ID.")
        quota = graphene.Int(description="Messages per day; 0: no limit; null: the default.")
        reason = graphene.String(description="Why; kept with the decision.")

    user = graphene.Field(ManagedUserType)

    @classmethod
    def perform(cls, info, user: User, id: str, quota: int | None = None, reason: str | None = None):
        target = selectors.user_get(user, pk_from_global_id(id, "ManagedUser"))
        changed = mailing_services.send_quota_set(actor=user, user=target, quota=quota, reason=reason or "")
        return cls(user=changed, errors=[])
