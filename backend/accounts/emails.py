"""What each account email says and to whom it goes, decided when the scheduler sends it.

A request only records that an email was asked for (`outbox.enqueue`); here, in the scheduler, the address is
looked up and the message rendered, with a fresh link, in the language of the request that asked for it.
An address without an account the email applies to gets nothing (an empty list).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from .forms import ComposingPasswordResetForm
from .models import AccountEmail, User
from .tokens import make_verification_token

Kind = AccountEmail.Kind

# The templates of each password reset: ours (/accounts/password-reset/) and Wagtail's (/cms/password_reset/,
# whose link leads to Wagtail's own confirmation page).
RESET_TEMPLATES = {
    Kind.PASSWORD_RESET: (
        "accounts/email/password_reset_subject.txt",
        "accounts/email/password_reset_body.txt",
    ),
    Kind.CMS_PASSWORD_RESET: (
        "wagtailadmin/account/password_reset/email_subject.txt",
        "wagtailadmin/account/password_reset/email.txt",
    ),
}


def _message(subject_template: str, body_template: str, user: User, context: dict) -> EmailMessage:
    context = {"user": user, "site_url": settings.SITE_URL, **context}
    subject = " ".join(render_to_string(subject_template, context).split())
    return EmailMultiAlternatives(subject, render_to_string(body_template, context), None, [user.email])


def verification_message(user: User) -> EmailMessage:
    link = settings.SITE_URL + reverse("accounts:verify", args=[make_verification_token(user)])
    return _message(
        "accounts/email/verify_subject.txt",
        "accounts/email/verify_body.txt",
        user,
        {"link": link, "days": int(settings.EMAIL_VERIFICATION_DAYS)},
    )


def _account(address: str) -> User | None:
    return User.objects.filter(email__iexact=address).first() if address else None


def sign_up_messages(address: str) -> list[EmailMessage]:
    """A sign-up: the link to an unverified account (new, or signed up again before confirming); a note with
    the password-reset page to an address that already has a verified account."""
    user = _account(address)
    if user is None:  # deleted since
        return []
    if not user.email_verified:
        return [verification_message(user)]
    return [
        _message(
            "accounts/email/exists_subject.txt",
            "accounts/email/exists_body.txt",
            user,
            {"reset_link": settings.SITE_URL + reverse("accounts:password_reset")},
        )
    ]


def verify_again_messages(address: str) -> list[EmailMessage]:
    """ "Send the link again": only to an active account that is not verified yet."""
    user = _account(address)
    if user is None or user.email_verified or not user.is_active:
        return []
    return [verification_message(user)]


def password_reset_messages(kind: str, address: str) -> list[EmailMessage]:
    """Django's own rules of who gets a reset link (an active account with a usable password), with the
    link's host taken from SITE_URL, never from a request's Host header."""
    form = ComposingPasswordResetForm({"email": address})
    if not form.is_valid():
        return []
    subject_template, body_template = RESET_TEMPLATES[kind]
    site = urlsplit(settings.SITE_URL)
    form.save(
        domain_override=site.netloc,
        use_https=site.scheme == "https",
        subject_template_name=subject_template,
        email_template_name=body_template,
        extra_email_context={"site_url": settings.SITE_URL},
    )
    return form.messages


def compose(kind: str, address: str) -> list[EmailMessage]:
    """The messages one queued request asks for now: none when the address has no account it applies to."""
    if kind == Kind.SIGN_UP:
        return sign_up_messages(address)
    if kind == Kind.VERIFY_AGAIN:
        return verify_again_messages(address)
    if kind in RESET_TEMPLATES:
        return password_reset_messages(kind, address)
    raise ValueError(f"unknown account email kind {kind!r}")
