"""Account-level writes (R-AUTH). Who may do what is decided in roles.py."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from graphql_jwt.refresh_token.utils import get_refresh_token_model
from graphql_jwt.settings import jwt_settings

from . import outbox, ratelimit, roles
from .errors import ErrorCode
from .models import AccountEmail, PhoneVerification, User
from .ratelimit import DAY, HOUR, Limit, RateLimited
from .sms import SMSError, check_country_allowed, get_sms_backend
from .tokens import user_from_verification_token

logger = logging.getLogger(__name__)

PHONE_RESEND_SECONDS = 60


# --- sign-up and email verification (R-AUTH-1, R-AUTH-2) ---------------------------------


def account_email_throttle(*, email: str, client_ip: str) -> None:
    """Count one account email (sign-up, the link again, a password reset) asked for `email` from
    `client_ip`; raises ratelimit.RateLimited when either hourly limit is used up.

    Counted by the address asked for, whether or not it has an account and whether or not an email then
    goes out, so a refusal tells nothing about who is registered.
    """
    ratelimit.take(
        Limit(
            "mail-to",
            User.objects.normalize_email(email).casefold(),
            settings.ACCOUNT_EMAILS_PER_RECIPIENT,
            HOUR,
        ),
        Limit("mail-client", client_ip, settings.ACCOUNT_EMAILS_PER_CLIENT, HOUR),
    )


def user_register(
    *, email: str, password: str, client_ip: str, full_name: str = "", time_zone: str = ""
) -> str:
    """Create an unverified account and queue its email; raises ratelimit.RateLimited when too many account
    emails were asked for (the address or the client). Returns `signup_browser_proof` of a new account, ""
    when the address had one already (the caller keeps it without telling the visitor which).

    An address that already has an account gets no second one and no error on the page (that would tell
    anyone who is registered); its owner gets an email instead: the link again if still unverified, or a
    note with the password-reset page. Both paths hash the password once, so they take as long, and
    both queue one email: which one is decided when the scheduler sends it (accounts.emails).
    """
    email = User.objects.normalize_email(email)
    account_email_throttle(email=email, client_ip=client_ip)
    existing = User.objects.filter(email__iexact=email).first()
    proof = ""
    with transaction.atomic():
        if existing is not None:
            make_password(password)  # the cost a new account pays in create_user; the result is not kept
        else:
            first, _sep, last = full_name.strip().partition(" ")
            extra = {"time_zone": time_zone} if time_zone else {}
            user = User.objects.create_user(
                email, password, first_name=first, last_name=last.strip(), **extra
            )
            proof = signup_browser_proof(user)
        outbox.enqueue(kind=AccountEmail.Kind.SIGN_UP, address=email)
    return proof


def signup_browser_proof(user: User) -> str:
    """What the browser that created `user` keeps (in its session) to show, at confirmation, that it typed
    the password the account holds: a MAC of the password's hash. A browser that signed up with an address
    that already had an account (maybe an attacker's, waiting for the owner to confirm) gets none, and any
    other browser must set the password when it confirms."""
    return salted_hmac("mailer.signup-browser", user.password, algorithm="sha256").hexdigest()


def resend_verification(*, email: str, client_ip: str) -> None:
    """Queue the link again for `email`; the scheduler sends it only if the address has an active, unverified
    account. The request does the same whatever the address. Raises ratelimit.RateLimited when
    too many account emails were asked for (the address or the client)."""
    account_email_throttle(email=email, client_ip=client_ip)
    outbox.enqueue(kind=AccountEmail.Kind.VERIFY_AGAIN, address=email)


def password_reset_request(
    *, email: str, client_ip: str, kind: str = AccountEmail.Kind.PASSWORD_RESET
) -> None:
    """Queue a password-reset link for `email` (ours, or Wagtail's for `kind` CMS_PASSWORD_RESET); the
    scheduler sends it only if the address has an account that may reset its password (Django's rule). The
    same work for any address. Raises ratelimit.RateLimited like the other account emails."""
    account_email_throttle(email=email, client_ip=client_ip)
    outbox.enqueue(kind=kind, address=email)


def verification_user(*, token: str) -> User:
    """The account a verification link is for, changing nothing: opening the link (a person, or a mail
    scanner following every link) only shows the page. Raises tokens.InvalidToken / ExpiredToken."""
    return user_from_verification_token(token)


def verify_email(*, token: str, password: str | None) -> tuple[User, bool]:
    """Confirm the link's address and set the account's password (None: keep the one given at sign-up, for
    the browser that signed up — the caller decides). Returns (user, already_verified).

    Whoever signed up with an address need not own it: an attacker may register victim@corp with a password
    of their own and wait for the owner to follow the link. So confirming an account that was
    never verified replaces its password with the one the mailbox owner sets now. The link works once: used
    again, it changes nothing and only reports that the address is verified. Raises tokens.InvalidToken /
    ExpiredToken.
    """
    user = user_from_verification_token(token)
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if user.email_verified:
            return user, True
        if password is not None:
            user.set_password(password)
        user.email_verified = True
        user.save(update_fields=["password", "email_verified"])
    return user, False


# --- the account itself (R-AUTH-3) ---------------------------------------------------


def account_delete(*, user: User, password: str) -> None:
    """Delete the account and everything it owns (clients, messages, mailings, their logs)."""
    if not user.check_password(password):
        raise ValidationError(_("The password is not correct."), code=ErrorCode.WRONG_PASSWORD)
    if user.is_superuser and not User.objects.filter(is_superuser=True).exclude(pk=user.pk).exists():
        raise ValidationError(
            _("You are the only superuser; create another one first."), code=ErrorCode.LAST_SUPERUSER
        )
    with transaction.atomic():
        user.delete()


# --- managers: blocking (R-AUTH-5); the user list is in selectors.py --------------------


def _require_can_block(actor: User, user: User) -> None:
    if not roles.may_block_users(actor):
        raise PermissionDenied(_("Only managers can block or unblock users."))
    if user.pk == actor.pk:
        raise PermissionDenied(_("You cannot block or unblock yourself."))
    if user.is_superuser and not actor.is_superuser:
        raise PermissionDenied(_("A manager cannot block or unblock a superuser."))


def user_block(*, actor: User, user: User, reason: str = "") -> User:
    """Block a user: no login, sessions end on their next request, API tokens refused, nothing sent."""
    _require_can_block(actor, user)
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        user.is_blocked = True
        user.blocked_at = timezone.now()
        user.blocked_by = actor
        user.blocked_reason = reason.strip()[:255]
        # An unblock later must not revive the API sessions this block ended: neither the refresh tokens
        # nor the access tokens issued before it.
        user.token_generation = F("token_generation") + 1
        user.save(
            update_fields=["is_blocked", "blocked_at", "blocked_by", "blocked_reason", "token_generation"]
        )
        user.refresh_from_db(fields=["token_generation"])
        refresh_tokens_revoke_all(user=user)
    return user


def user_unblock(*, actor: User, user: User) -> User:
    _require_can_block(actor, user)
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        user.is_blocked = False
        user.blocked_at = None
        user.blocked_by = None
        user.blocked_reason = ""
        user.save(update_fields=["is_blocked", "blocked_at", "blocked_by", "blocked_reason"])
    return user


# --- API refresh tokens: long-running, stored, revocable -------------------
# An access token lives minutes (GRAPHQL_JWT's JWT_EXPIRATION_DELTA) and is checked against the account on
# every request (backend/api/core/auth.py); a refresh token is a random string stored in graphql_jwt's
# table, so it can be revoked: by its holder (revokeToken), by a password change (accounts.validators) and
# by a block.


class TokenRefused(Exception):
    """A refresh token that gives nothing: unknown, revoked, expired, or its account may not act."""


def refresh_token_expires_at(refresh_token) -> dt.datetime:
    return refresh_token.created + jwt_settings.JWT_REFRESH_EXPIRATION_DELTA


def refresh_token_digest(token: str) -> str:
    """What the database keeps of a refresh token: its SHA-256. The token is 20 random bytes, so the digest
    needs no salt, and a copy of the table (a backup, a leak) holds nothing a client could spend."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _refresh_token_create(user: User):
    RefreshToken = get_refresh_token_model()
    refresh_token = RefreshToken(user=user)
    secret = refresh_token.generate_token()
    refresh_token.token = refresh_token_digest(secret)
    refresh_token.save()
    refresh_token._cached_token = secret  # what get_token() hands to the client, once
    return refresh_token


def refresh_token_issue(*, user: User):
    """A new refresh token for a user who has just authenticated. The account's row is locked first, as a
    block locks it, so a token is never issued beside a block that would not see it."""
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if not roles.may_sign_in(user):
            raise TokenRefused(_("This account is blocked or inactive."))
        return _refresh_token_create(user)


# A spent (rotated) token keeps its row, its digest marked with this prefix, so a second use of it can be told
# from a use of a token its holder revoked (revokeToken, a password change, a block), which is only refused.
SPENT = "spent:"
# Two uses of one token this close together are a client's retry or two tabs, not a thief: refused, no more.
REUSE_GRACE = dt.timedelta(seconds=10)


def _refresh_tokens_named(token: str):
    """The stored refresh tokens issued as `token` and not yet spent."""
    return get_refresh_token_model().objects.filter(token=refresh_token_digest(token))


def refresh_token_rotate(*, token: str):
    """Spend a refresh token: it is marked spent and a new one is returned for the same user. A token works
    once. A spent token presented again, later than REUSE_GRACE, means a copy is in someone else's hands (its
    owner or a thief already used it), so every refresh token of its account is revoked and its access tokens
    end (the token generation is raised): both sides must sign in again. The account's row is locked before
    the token's, in the order a block takes them, so a rotation never slips past a block."""
    RefreshToken = get_refresh_token_model()
    digest = refresh_token_digest(token)
    live = RefreshToken.objects.filter(token=digest, revoked__isnull=True)
    owner_id = live.values_list("user_id", flat=True).first()
    if owner_id is not None:
        with transaction.atomic():
            user = User.objects.select_for_update().get(pk=owner_id)
            old = live.select_for_update().first()
            if old is not None:
                if old.is_expired():
                    raise TokenRefused(_("This refresh token has expired; sign in again."))
                if not roles.may_sign_in(user):
                    raise TokenRefused(_("This account is blocked or inactive."))
                old.token = SPENT + digest
                old.revoked = timezone.now()
                old.save(update_fields=["token", "revoked"])
                return _refresh_token_create(user)
    spent = RefreshToken.objects.filter(token=SPENT + digest).values_list("user_id", "revoked").first()
    if spent is not None and spent[1] < timezone.now() - REUSE_GRACE:
        with transaction.atomic():
            user = User.objects.select_for_update().get(pk=spent[0])
            refresh_tokens_revoke_all(user=user)
            User.objects.filter(pk=user.pk).update(token_generation=F("token_generation") + 1)
        logger.warning("a spent refresh token of user %s was used again; all their tokens revoked", spent[0])
    raise TokenRefused(_("This refresh token is unknown or revoked; sign in again."))


def refresh_token_revoke(*, actor: User, token: str):
    """Revoke one of the actor's own refresh tokens (sign out of an API client). Another user's token is
    refused with the same text as an unknown one."""
    with transaction.atomic():
        refresh_token = (
            _refresh_tokens_named(token)
            .select_for_update()
            .filter(user_id=actor.pk, revoked__isnull=True)
            .first()
        )
        if refresh_token is None:
            raise TokenRefused(_("This refresh token is unknown or revoked."))
        refresh_token.revoke()
    return refresh_token


def refresh_tokens_revoke_all(*, user: User) -> int:
    """End every API session of the account (a password change, a block)."""
    return (
        get_refresh_token_model()
        .objects.filter(user_id=user.pk, revoked__isnull=True)
        .update(revoked=timezone.now())
    )


# --- phone verification by SMS (R-AUTH-8) -----------------------------------------------


def _code_hash(user: User, phone: str, code: str) -> str:
    return salted_hmac("mailer.accounts.phone-code", f"{user.pk}:{phone}:{code}").hexdigest()


def phone_start(*, user: User, phone: str) -> PhoneVerification:
    """Send a 6-digit code to `phone` (already in E.164). Raises ValidationError (a country codes may not go
    to, too soon, a daily cap reached) or sms.SMSError (the SMS service failed).

    SMS cost money, so everything that limits them is decided and recorded *before* the SMS goes out, in one
    transaction: the user's row is locked, so parallel requests see each other's send time
    (the one-minute pace), and the daily caps (per user, per number, service-wide) are counted in the
    database, shared by every process. If the SMS then fails, the code is dropped; the caps are given back
    only when the provider certainly did not send it (a timeout or an unreadable answer may still have been
    billed), and the pace stays in either case.
    """
    check_country_allowed(phone)
    code = f"{secrets.randbelow(10**6):06d}"
    with transaction.atomic():
        User.objects.select_for_update().only("pk").get(pk=user.pk)
        now = timezone.now()
        # The row outlives a used-up or expired code, so its send time keeps the pace (no "5 wrong, resend").
        previous = PhoneVerification.objects.filter(user=user).first()
        if previous and (now - previous.sent_at).total_seconds() < PHONE_RESEND_SECONDS:
            raise ValidationError(
                _("A code was sent less than a minute ago; wait a little."), code=ErrorCode.TOO_SOON
            )
        try:
            taken = ratelimit.take(
                Limit("sms-user", str(user.pk), settings.PHONE_CODES_PER_DAY, DAY),
                Limit("sms-number", phone, settings.PHONE_CODES_PER_DAY, DAY),
                Limit("sms-service", "", settings.SMS_DAILY_LIMIT, DAY),
                now=now,
            )
        except RateLimited as exc:
            if exc.limit.scope == "sms-service":
                raise ValidationError(
                    _("No more codes can be sent today; try again tomorrow."),
                    code=ErrorCode.SERVICE_DAILY_LIMIT,
                ) from None
            raise ValidationError(
                _("Too many codes today; try again tomorrow."), code=ErrorCode.DAILY_LIMIT
            ) from None
        verification, _created = PhoneVerification.objects.update_or_create(
            user=user,
            defaults={
                "phone": phone,
                "code_hash": _code_hash(user, phone, code),
                "expires_at": now + dt.timedelta(seconds=settings.PHONE_CODE_SECONDS),
                "tries_left": settings.PHONE_CODE_TRIES,
            },
        )
    try:
        get_sms_backend().send(phone, _("Mailer code: %(code)s") % {"code": code})
    except SMSError as exc:
        PhoneVerification.objects.filter(pk=verification.pk, code_hash=verification.code_hash).update(
            code_hash="", tries_left=0
        )
        if exc.not_sent:
            taken.refund()
        raise
    return verification


def _spend(verification: PhoneVerification) -> None:
    """The code can no longer be used; the row stays for its send time (the resend pace)."""
    verification.code_hash = ""
    verification.tries_left = 0
    verification.save(update_fields=["code_hash", "tries_left"])


def phone_confirm(*, user: User, code: str) -> User:
    """Check the code; on success the number becomes the user's verified phone. A wrong try is counted
    (and committed) before the error is raised."""
    error: ValidationError | None = None
    with transaction.atomic():
        verification = PhoneVerification.objects.select_for_update().filter(user=user).first()
        if verification is None or not verification.code_hash:
            error = ValidationError(_("Ask for a code first."), code=ErrorCode.NO_CODE)
        elif verification.expires_at <= timezone.now():
            _spend(verification)
            error = ValidationError(_("The code has expired; ask for a new one."), code=ErrorCode.EXPIRED)
        elif not constant_time_compare(
            verification.code_hash, _code_hash(user, verification.phone, code.strip())
        ):
            verification.tries_left -= 1
            if verification.tries_left <= 0:
                _spend(verification)
                error = ValidationError(
                    _("Too many wrong codes; ask for a new one."), code=ErrorCode.NO_TRIES_LEFT
                )
            else:
                verification.save(update_fields=["tries_left"])
                error = ValidationError(
                    ngettext(
                        "Wrong code; %(n)d try left.",
                        "Wrong code; %(n)d tries left.",
                        verification.tries_left,
                    ),
                    code=ErrorCode.WRONG_CODE,
                    params={"n": verification.tries_left},
                )
        else:
            user.phone = verification.phone
            user.phone_verified_at = timezone.now()
            user.save(update_fields=["phone", "phone_verified_at"])
            verification.delete()
    if error is not None:
        raise error
    return user
