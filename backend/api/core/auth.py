"""Who is asking: a session (browser, CSRF-protected) or `Authorization: JWT <token>` (no CSRF).

An access token carries a fingerprint of the password hash (`pwd`), so a token issued before a password change
stops working, and the user is checked with `roles.may_sign_in` on every request, so a token issued before a
block stops working on the next request (R-AUTH-5); it also names the account's token generation, which every
block raises, so it stays refused after the unblock.
"""

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from django.utils.translation import gettext as _
from graphql_jwt import exceptions as jwt_exceptions
from graphql_jwt.utils import get_payload, get_user_by_payload
from graphql_jwt.utils import jwt_payload as stock_jwt_payload

from backend.accounts import roles
from backend.accounts.models import User

from .errors import UNAUTHENTICATED, graphql_error

HEADER_PREFIX = "JWT"


def password_fingerprint(user: User) -> str:
    # The session's own auth hash: an HMAC of the password hash, so it changes with the password.
    return user.get_session_auth_hash()[:20]


def jwt_payload(user: User, context=None) -> dict:
    """GRAPHQL_JWT's payload handler: the stock claims plus the password fingerprint."""
    payload = stock_jwt_payload(user, context)
    payload["pwd"] = password_fingerprint(user)
    payload["gen"] = user.token_generation
    return payload


def user_for_token(token: str) -> User:
    """The user a valid, current access token names; raises JSONWebTokenError with a clear message."""
    payload = get_payload(token)
    user = get_user_by_payload(payload)
    if user is None:
        raise jwt_exceptions.JSONWebTokenError(_("This token's account no longer exists."))
    if payload.get("pwd") != password_fingerprint(user):
        raise jwt_exceptions.JSONWebTokenError(
            _("The token was issued before a password change; sign in again.")
        )
    if not roles.may_sign_in(user):
        raise jwt_exceptions.JSONWebTokenError(_("This account is blocked or inactive."))
    # A token from before generations were named has none: generation 0, the one every account starts in.
    if payload.get("gen", 0) != user.token_generation:
        raise jwt_exceptions.JSONWebTokenError(_("The token was issued before a block; sign in again."))
    return user


def authenticate_request(request: HttpRequest) -> bool:
    """Sets `request.user` from an Authorization header; True when the request carries one (then no CSRF
    check applies: a browser never adds this header on its own). A bad token leaves the request anonymous
    and remembers why in `request.jwt_error`, so a call that needs a user gets that reason."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header:
        return False
    prefix, _sep, token = header.partition(" ")
    request.user = AnonymousUser()
    if prefix != HEADER_PREFIX or not token.strip():
        request.jwt_error = _("Send the token as: Authorization: JWT <token>.")
        return True
    try:
        request.user = user_for_token(token.strip())
    except jwt_exceptions.JSONWebTokenError as exc:
        request.jwt_error = str(exc)
    return True


def require_user(info) -> User:
    """The acting user, or an UNAUTHENTICATED error (anonymous, blocked, inactive, unverified)."""
    user = info.context.user
    if not roles.may_act(user):
        raise authentication_error(info.context)
    return user


def authentication_error(request: HttpRequest):
    message = getattr(request, "jwt_error", None) or _(
        "Sign in first: send Authorization: JWT <token> (from tokenAuth) or use a signed-in browser session."
    )
    return graphql_error(message, UNAUTHENTICATED)
