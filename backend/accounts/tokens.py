"""Signed, expiring, single-use email verification links (R-AUTH-2)."""

from django.conf import settings
from django.core import signing

from .models import User

SALT = "mailer.accounts.verify-email"


def make_verification_token(user: User) -> str:
    # The email is signed too, so a link sent before an email change cannot verify the new address.
    return signing.dumps({"u": user.pk, "e": user.email.lower()}, salt=SALT, compress=True)


class InvalidToken(Exception):
    pass


class ExpiredToken(InvalidToken):
    pass


def user_from_verification_token(token: str) -> User:
    max_age = settings.EMAIL_VERIFICATION_DAYS * 24 * 3600
    try:
        data = signing.loads(token, salt=SALT, max_age=max_age)
    except signing.SignatureExpired as exc:
        raise ExpiredToken from exc
    except signing.BadSignature as exc:
        raise InvalidToken from exc
    try:
        user = User.objects.get(pk=data["u"])
    except (User.DoesNotExist, KeyError, TypeError) as exc:
        raise InvalidToken from exc
    if user.email.lower() != data.get("e"):
        raise InvalidToken
    return user
