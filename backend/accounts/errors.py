"""The accounts app's error codes: every `ValidationError` its services and forms raise, and every reason
a right password is refused, carries one of these. The values are a contract: pages and API clients
compare them, and the API exposes them unchanged as values of the GraphQL enum `ErrorCode`
(api/core/errors.py) or as `extensions.reason` of a refused sign-in."""

import enum


class ErrorCode(enum.StrEnum):
    """Stable codes the API and pages can rely on."""

    # A right password refused (backends.py): the account may not sign in yet, or no longer.
    BLOCKED = "blocked"
    UNVERIFIED = "unverified"
    # Deleting one's account.
    WRONG_PASSWORD = "wrong_password"  # noqa: S105 - a code, not a password
    LAST_SUPERUSER = "last_superuser"
    # Signing up.
    MISMATCH = "mismatch"
    # The profile's time zone.
    INVALID_TIME_ZONE = "invalid_time_zone"
    # Confirming a phone number by SMS (R-AUTH-8).
    INVALID_PHONE = "invalid_phone"
    COUNTRY_NOT_ALLOWED = "country_not_allowed"
    TOO_SOON = "too_soon"
    SERVICE_DAILY_LIMIT = "service_daily_limit"
    DAILY_LIMIT = "daily_limit"
    NO_CODE = "no_code"
    EXPIRED = "expired"
    NO_TRIES_LEFT = "no_tries_left"
    WRONG_CODE = "wrong_code"
