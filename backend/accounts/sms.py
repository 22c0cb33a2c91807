"""SMS backends for phone-number verification codes (R-AUTH-8).

`get_sms_backend()` returns the backend chosen by ``settings.SMS_BACKEND``:

- ``"console"`` (default): `ConsoleSMSBackend` writes the message to the log at WARNING level, so a developer
  running the site sees the code in the web log. It never fails.
- ``"smsru"``: `SmsRuBackend` sends the message through the sms.ru HTTP API with ``requests``.

Every backend has ``send(phone, text) -> None`` and raises `SMSError` (and nothing else) on any failure.
`SMSError` carries a short translated message for the user (``str(exc)`` / ``exc.user_message``) and a
``detail`` for the log, and ``not_sent``: True only when the message certainly did not go out (sms.ru said
no, or was never reached), so nothing was billed; after a timeout or an unreadable answer it may have been
sent (the caller refunds its counters only when ``not_sent``).

The sms.ru ``api_id`` is a secret: it is sent in the POST body (never in the URL, which ``requests`` and
``urllib3`` put in their error messages and debug logs) and scrubbed from every detail.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Protocol

import phonenumbers
import requests
import urllib3
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.utils.translation import gettext as _

from .errors import ErrorCode

logger = logging.getLogger(__name__)

_MAX_BODY_IN_DETAIL = 200


class SMSError(Exception):
    """An SMS could not be sent: ``str(exc)`` is for the user, ``detail`` is for the log; ``not_sent`` is
    True only when the provider certainly did not send (and bill) it."""

    def __init__(self, user_message: str | None = None, *, detail: str = "", not_sent: bool = False) -> None:
        if user_message is None:
            user_message = _("The SMS could not be sent. Please try again later.")
        super().__init__(user_message)
        self.user_message: str = user_message
        self.detail: str = detail
        self.not_sent: bool = not_sent

    def __str__(self) -> str:
        return self.user_message


class SMSBackend(Protocol):
    """Sends one text message; raises `SMSError` on any failure."""

    def send(self, phone: str, text: str) -> None: ...


class ConsoleSMSBackend:
    """Development backend: the message goes to the log (WARNING, so it shows with default logging)."""

    def send(self, phone: str, text: str) -> None:
        logger.warning("SMS to %s: %s", phone, text)


def _digits(phone: str) -> str:
    return re.sub(r"\D", "", phone)


def _mask(digits: str) -> str:
    """A phone number for the log: enough to tell numbers apart, not the whole number."""
    if len(digits) <= 6:
        return "*" * len(digits)
    return f"{digits[:4]}***{digits[-3:]}"


class SmsRuBackend:
    """sms.ru HTTP API (https://sms.ru/api/send): POST ``api_id``, ``to``, ``msg``, ``json=1``."""

    def __init__(
        self, api_id: str | None = None, url: str | None = None, timeout: float | None = None
    ) -> None:
        self.api_id: str = settings.SMSRU_API_ID if api_id is None else api_id
        self.url: str = settings.SMSRU_URL if url is None else url
        self.timeout: float = float(settings.SMS_TIMEOUT if timeout is None else timeout)

    def send(self, phone: str, text: str) -> None:
        digits = _digits(phone)
        try:
            self._send(digits, text)
        except SMSError as exc:
            exc.detail = self._scrub(exc.detail)
            logger.warning("SMS to %s via sms.ru failed: %s", _mask(digits), exc.detail)
            raise
        except Exception as exc:  # the contract: nothing but SMSError leaves send()
            detail = self._scrub(f"unexpected error: {type(exc).__name__}: {exc}")
            logger.warning("SMS to %s via sms.ru failed: %s", _mask(digits), detail)
            raise SMSError(detail=detail) from exc

    def _send(self, digits: str, text: str) -> None:
        if not digits:
            raise SMSError(
                _("Enter a valid phone number."), detail="the phone number has no digits", not_sent=True
            )
        data = {"api_id": self.api_id, "to": digits, "msg": text, "json": "1"}
        try:
            response = requests.post(self.url, data=data, timeout=self.timeout)
        except requests.ConnectTimeout as exc:
            raise SMSError(detail=f"could not reach sms.ru: {exc}", not_sent=True) from exc
        except requests.Timeout as exc:
            raise SMSError(detail=f"sms.ru did not answer within {self.timeout:g} s: {exc}") from exc
        except requests.RequestException as exc:
            raise SMSError(
                detail=f"could not reach sms.ru: {type(exc).__name__}: {exc}", not_sent=_never_connected(exc)
            ) from exc

        if response.status_code != 200:
            raise SMSError(
                detail=f"sms.ru answered HTTP {response.status_code}: {self._snippet(response.text)!r}"
            )
        try:
            body: Any = response.json()
        except ValueError as exc:
            raise SMSError(
                detail=f"sms.ru answered with something that is not JSON: {self._snippet(response.text)!r}"
            ) from exc
        self._check(body, digits)

    def _check(self, body: Any, digits: str) -> None:
        if not isinstance(body, dict):
            raise SMSError(detail=f"sms.ru answered with unexpected JSON: {self._snippet(repr(body))}")
        if body.get("status") != "OK":
            raise SMSError(
                detail=(
                    f"sms.ru refused the request: status={body.get('status')!r} "
                    f"status_code={body.get('status_code')!r} status_text={body.get('status_text')!r}"
                ),
                not_sent=body.get("status") == "ERROR",
            )
        per_number = body.get("sms")
        if not isinstance(per_number, dict) or not per_number:
            raise SMSError(detail=f"sms.ru answer has no per-number result: {self._snippet(repr(body))}")
        entry = per_number.get(digits)
        if entry is None and len(per_number) == 1:  # sms.ru may normalise the number (8916... -> 7916...)
            entry = next(iter(per_number.values()))
        if not isinstance(entry, dict):
            raise SMSError(
                detail=f"sms.ru answer has no result for the number: {self._snippet(repr(per_number))}"
            )
        if entry.get("status") != "OK":
            raise SMSError(
                detail=(
                    f"sms.ru refused the number: status={entry.get('status')!r} "
                    f"status_code={entry.get('status_code')!r} status_text={entry.get('status_text')!r}"
                ),
                not_sent=entry.get("status") == "ERROR",
            )

    def _scrub(self, text: str) -> str:
        return text.replace(self.api_id, "***") if self.api_id else text

    @staticmethod
    def _snippet(text: str) -> str:
        text = text.strip()
        if len(text) > _MAX_BODY_IN_DETAIL:
            text = text[:_MAX_BODY_IN_DETAIL] + "..."
        return text


def _never_connected(exc: requests.RequestException) -> bool:
    """The connection itself failed (refused, no route, DNS), so no request reached sms.ru."""
    reason = getattr(exc.args[0] if exc.args else None, "reason", None)
    return isinstance(exc, requests.ConnectionError) and isinstance(
        reason, urllib3.exceptions.NewConnectionError
    )


def country_allowed(phone: str) -> bool:
    """Whether ``settings.SMS_ALLOWED_COUNTRIES`` lets a code go to `phone` (E.164); "*" allows all."""
    allowed = settings.SMS_ALLOWED_COUNTRIES
    if "*" in allowed:
        return True
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.region_code_for_number(number) in allowed


def check_country_allowed(phone: str) -> None:
    """Refuse a number `country_allowed` does not let a code go to: the phone form and `phone_start` say it
    in the same words and code."""
    if not country_allowed(phone):
        raise ValidationError(
            _("Codes cannot be sent to phone numbers of this country."), code=ErrorCode.COUNTRY_NOT_ALLOWED
        )


def get_sms_backend() -> SMSBackend:
    """The backend selected by ``settings.SMS_BACKEND`` ("console" or "smsru")."""
    name = settings.SMS_BACKEND
    if name == "console":
        return ConsoleSMSBackend()
    if name == "smsru":
        return SmsRuBackend()
    raise ImproperlyConfigured(f"SMS_BACKEND must be console or smsru (got {name!r}).")
