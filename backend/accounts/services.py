"""Account-level decisions and writes (R-AUTH). Every page, API call and service asks `user_can_act`."""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import smtplib

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _

from .models import PhoneVerification, User
from .tokens import make_verification_token, user_from_verification_token

logger = logging.getLogger(__name__)

BLOCK_USER = "accounts.block_user"
PHONE_RESEND_SECONDS = 60


def user_can_act(user: User | AnonymousUser | None) -> bool:
    """True for a signed-in, active, unblocked user: the one gate every layer uses."""
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and not getattr(user, "is_blocked", False)
    )


# --- sign-up and email verification (R-AUTH-1, R-AUTH-2) ---------------------------------


def _send(subject_template: str, body_template: str, user: User, context: dict) -> bool:
    """Send one account email; False (and a log line) when the mail server cannot take it."""
    context = {"user": user, "site_url": settings.SITE_URL, **context}
    subject = " ".join(render_to_string(subject_template, context).split())
    body = render_to_string(body_template, context)
    try:
        send_mail(subject, body, None, [user.email])
    except (smtplib.SMTPException, OSError) as exc:
        logger.warning("could not send %s to user %s: %s", subject_template, user.pk, exc)
        return False
    return True


def send_verification_email(user: User) -> bool:
    link = settings.SITE_URL + reverse("accounts:verify", args=[make_verification_token(user)])
    return _send(
        "accounts/email/verify_subject.txt",
        "accounts/email/verify_body.txt",
        user,
        {"link": link, "days": int(settings.EMAIL_VERIFICATION_DAYS)},
    )


def user_register(*, email: str, password: str, full_name: str = "") -> bool:
    """Create an unverified account and email its link. Returns whether the email could be sent.

    An address that already has an account gets no second one and no error on the page (that would tell
    anyone who is registered); its owner gets an email instead: the link again if still unverified, or a
    note with the password-reset page.
    """
    email = User.objects.normalize_email(email)
    existing = User.objects.filter(email__iexact=email).first()
    if existing is not None:
        if not existing.email_verified:
            return send_verification_email(existing)
        return _send(
            "accounts/email/exists_subject.txt",
            "accounts/email/exists_body.txt",
            existing,
            {"reset_link": settings.SITE_URL + reverse("accounts:password_reset")},
        )
    first, _sep, last = full_name.strip().partition(" ")
    with transaction.atomic():
        user = User.objects.create_user(email, password, first_name=first, last_name=last.strip())
    return send_verification_email(user)


def resend_verification(*, email: str) -> bool:
    """Send the link again to an unverified account; neutral (True) for any other address."""
    user = User.objects.filter(email__iexact=User.objects.normalize_email(email)).first()
    if user is None or user.email_verified or not user.is_active:
        return True
    return send_verification_email(user)


def verify_email(*, token: str) -> tuple[User, bool]:
    """Mark the link's account verified. Returns (user, already_verified). The link works once: used again,
    it only reports that the address is verified. Raises tokens.InvalidToken / ExpiredToken."""
    user = user_from_verification_token(token)
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if user.email_verified:
            return user, True
        user.email_verified = True
        user.save(update_fields=["email_verified"])
    return user, False


# --- the account itself (R-AUTH-3) ---------------------------------------------------


def account_delete(*, user: User, password: str) -> None:
    """Delete the account and everything it owns (clients, messages, mailings, their logs)."""
    if not user.check_password(password):
        raise ValidationError(_("The password is not correct."), code="wrong_password")
    if user.is_superuser and not User.objects.filter(is_superuser=True).exclude(pk=user.pk).exists():
        raise ValidationError(
            _("You are the only superuser; create another one first."), code="last_superuser"
        )
    with transaction.atomic():
        user.delete()


# --- managers: blocking (R-AUTH-5); the user list is in selectors.py --------------------


def _require_can_block(actor: User, user: User) -> None:
    if not (user_can_act(actor) and actor.has_perm(BLOCK_USER)):
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
        user.save(update_fields=["is_blocked", "blocked_at", "blocked_by", "blocked_reason"])
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


# --- phone verification by SMS (R-AUTH-8) -----------------------------------------------


def _code_hash(user: User, phone: str, code: str) -> str:
    return salted_hmac("mailer.accounts.phone-code", f"{user.pk}:{phone}:{code}").hexdigest()


def phone_start(*, user: User, phone: str) -> PhoneVerification:
    """Send a 6-digit code to `phone` (already in E.164). Raises ValidationError (too soon) or
    sms.SMSError (the SMS service failed; then nothing is stored)."""
    from .sms import get_sms_backend

    now = timezone.now()
    # The row outlives a used-up or expired code, so its send time keeps the pace (no "5 wrong, resend").
    previous = PhoneVerification.objects.filter(user=user).first()
    if previous and (now - previous.sent_at).total_seconds() < PHONE_RESEND_SECONDS:
        raise ValidationError(_("A code was sent less than a minute ago; wait a little."), code="too_soon")
    day = now.date().isoformat()
    counters = [f"sms:user:{user.pk}:{day}", f"sms:phone:{phone}:{day}"]
    if any((cache.get(key) or 0) >= settings.PHONE_CODES_PER_DAY for key in counters):
        raise ValidationError(_("Too many codes today; try again tomorrow."), code="daily_limit")
    code = f"{secrets.randbelow(10**6):06d}"
    get_sms_backend().send(phone, _("Mailer code: %(code)s") % {"code": code})
    for key in counters:
        cache.add(key, 0, 2 * 24 * 3600)
        cache.incr(key)
    with transaction.atomic():
        verification, _created = PhoneVerification.objects.update_or_create(
            user=user,
            defaults={
                "phone": phone,
                "code_hash": _code_hash(user, phone, code),
                "expires_at": now + dt.timedelta(seconds=settings.PHONE_CODE_SECONDS),
                "tries_left": settings.PHONE_CODE_TRIES,
            },
        )
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
            error = ValidationError(_("Ask for a code first."), code="no_code")
        elif verification.expires_at <= timezone.now():
            _spend(verification)
            error = ValidationError(_("The code has expired; ask for a new one."), code="expired")
        elif not constant_time_compare(
            verification.code_hash, _code_hash(user, verification.phone, code.strip())
        ):
            verification.tries_left -= 1
            if verification.tries_left <= 0:
                _spend(verification)
                error = ValidationError(_("Too many wrong codes; ask for a new one."), code="no_tries_left")
            else:
                verification.save(update_fields=["tries_left"])
                error = ValidationError(
                    _("Wrong code; %(n)d tries left."),
                    code="wrong_code",
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
