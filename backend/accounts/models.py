"""The user: email is the login, unique in any letter case (R-AUTH-1)."""

import zoneinfo

from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .errors import ErrorCode


def default_time_zone() -> str:
    return settings.TIME_ZONE


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            _("%(value)s is not a known time zone."),
            code=ErrorCode.INVALID_TIME_ZONE,
            params={"value": value},
        )


class UserManager(BaseUserManager):
    use_in_migrations = True

    @classmethod
    def normalize_email(cls, email: str | None) -> str:
        """Strip spaces and lower-case the domain; the local part keeps its case (RFC 5321)."""
        return super().normalize_email((email or "").strip())

    def get_by_natural_key(self, email: str):
        # Login in any letter case: the database guarantees at most one match.
        return self.get(email__iexact=self.normalize_email(email))

    def _create_user(self, email: str, password: str | None, **extra_fields):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email: str, password: str | None = None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        extra_fields.setdefault("email_verified", True)
        if extra_fields.get("is_staff") is not True or extra_fields.get("is_superuser") is not True:
            raise ValueError("A superuser must have is_staff=True and is_superuser=True.")
        return self._create_user(email, password, **extra_fields)


class User(AbstractUser):
    username = None
    email = models.EmailField(_("email address"), unique=True)
    phone = models.CharField(
        _("phone number"), max_length=20, blank=True, help_text=_("International format, e.g. +79161234567.")
    )
    phone_verified_at = models.DateTimeField(_("phone verified at"), null=True, blank=True)
    time_zone = models.CharField(
        _("time zone"), max_length=64, default=default_time_zone, validators=[validate_time_zone]
    )
    email_verified = models.BooleanField(_("email verified"), default=False)
    is_blocked = models.BooleanField(_("blocked"), default=False, db_index=True)
    blocked_at = models.DateTimeField(_("blocked at"), null=True, blank=True)
    blocked_by = models.ForeignKey(
        "self",
        verbose_name=_("blocked by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    blocked_reason = models.CharField(_("reason for blocking"), max_length=255, blank=True)
    # Sending limits (R-DLV-5). Empty quota: SEND_QUOTA_DAILY, or SEND_QUOTA_NEW_ACCOUNT_DAILY while the
    # account is younger than SEND_QUOTA_NEW_ACCOUNT_DAYS. A paused owner's mail waits for a manager.
    send_quota_daily = models.PositiveIntegerField(
        _("daily sending quota"),
        null=True,
        blank=True,
        help_text=_("Messages per day; empty for the default."),
    )
    sending_paused_at = models.DateTimeField(_("sending paused at"), null=True, blank=True)
    sending_paused_reason = models.CharField(_("why sending is paused"), max_length=255, blank=True)
    # Raised by every block: an access token names the generation it was issued in, so one issued before a
    # block stays refused after the unblock although it has not expired (backend/api/core/auth.py).
    token_generation = models.PositiveIntegerField(_("API token generation"), default=0, editable=False)

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["email"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
        ]
        permissions = [
            ("view_all_users", _("Can view the list of all users")),
            ("block_user", _("Can block and unblock users")),
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        """The user's zone for reading and showing times; the server's default if the stored name is unknown
        here (a zone removed from the system's database must not break a page)."""
        try:
            return zoneinfo.ZoneInfo(self.time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return timezone.get_default_timezone()

    def clean(self) -> None:
        super().clean()
        self.email = type(self).objects.normalize_email(self.email)

    def save(self, *args, **kwargs) -> None:
        self.email = type(self).objects.normalize_email(self.email)
        super().save(*args, **kwargs)


class PhoneVerification(models.Model):
    """A pending SMS code for a phone number (R-AUTH-8). Only the code's hash is stored."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="phone_verification")
    phone = models.CharField(_("phone number"), max_length=20)
    code_hash = models.CharField(max_length=128)
    expires_at = models.DateTimeField()
    tries_left = models.PositiveSmallIntegerField()
    sent_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("phone verification")
        verbose_name_plural = _("phone verifications")

    def __str__(self) -> str:
        return f"{self.user} {self.phone}"


class RateCounter(models.Model):
    """How many times one thing happened in one fixed time window (accounts.ratelimit).

    The key is a hash of what is counted (an email address, a client address, a user id), so the table holds
    no addresses. One row per (scope, key, window); the count is raised by one atomic upsert, so every web
    process shares it.
    """

    scope = models.CharField(max_length=32)
    key_hash = models.CharField(max_length=64)
    window_start = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    hits = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("rate counter")
        verbose_name_plural = _("rate counters")
        constraints = [
            models.UniqueConstraint(
                fields=["scope", "key_hash", "window_start"], name="accounts_ratecounter_window_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.scope} {self.window_start:%Y-%m-%d %H:%M} {self.hits}"


class AccountEmail(models.Model):
    """An account email asked for by a request and sent by the scheduler: the outbox.

    The request only records what was asked (which email, for which address, in which language); the
    scheduler (`accounts.outbox.send_account_mail`) decides whether the address has an account it applies to,
    renders the message with a fresh link and sends it. So a request does the same work for a registered
    and an unknown address, and no body (with its secret link) is ever stored. A row whose address has no
    such account is finished as "nothing to send" and its address blanked.
    """

    class Kind(models.TextChoices):
        SIGN_UP = "sign-up", _("sign-up")
        VERIFY_AGAIN = "verify-again", _("confirmation link again")
        PASSWORD_RESET = "password-reset", _("password reset")
        CMS_PASSWORD_RESET = "cms-password-reset", _("password reset (CMS)")

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        SENT = "sent", _("sent")
        NOTHING_TO_SEND = "nothing", _("nothing to send")
        FAILED = "failed", _("failed")

    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    recipient = models.EmailField(_("recipient"), blank=True)
    language = models.CharField(_("language"), max_length=16)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    created = models.DateTimeField(_("created"), default=timezone.now)
    # Past this, a link would reach its reader too late to be of use: the row fails instead of being sent.
    expires = models.DateTimeField(_("expires"))
    next_try = models.DateTimeField(_("next try"), default=timezone.now)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    lease = models.CharField(max_length=32, blank=True, editable=False)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    finished = models.DateTimeField(_("finished"), null=True, blank=True, db_index=True)
    last_error = models.CharField(_("last error"), max_length=1000, blank=True)

    class Meta:
        verbose_name = _("account email")
        verbose_name_plural = _("account emails")
        ordering = ["-created"]
        indexes = [
            models.Index(
                fields=["next_try"],
                condition=models.Q(status="pending"),
                name="accounts_accountemail_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.recipient or '-'} {self.get_status_display()}"


class SendingDecision(models.Model):
    """A decision about an owner's sending (R-DLV-5), automatic or a manager's: who, when, why, and the
    figures it was taken on."""

    class Action(models.TextChoices):
        PAUSED = "paused", _("sending paused")
        RESUMED = "resumed", _("sending resumed")
        BLOCKED = "blocked", _("blocked")
        QUOTA_CHANGED = "quota", _("quota changed")

    user = models.ForeignKey(
        User, verbose_name=_("account"), on_delete=models.CASCADE, related_name="sending_decisions"
    )
    action = models.CharField(_("action"), max_length=10, choices=Action.choices)
    # Empty: taken automatically.
    actor = models.ForeignKey(
        User,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reason = models.TextField(_("reason"), blank=True)
    figures = models.JSONField(_("figures"), default=dict, blank=True)
    created_at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("sending decision")
        verbose_name_plural = _("sending decisions")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.get_action_display()}"
