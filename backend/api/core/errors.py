"""How errors leave the API.

A mistake the user can fix comes back in the mutation's payload as `errors { field message code }`, built here
from the domain's `ValidationError`s (a bound form's errors per field, or a service's error with its
`ErrorCode`). `code` is the GraphQL enum `ErrorCode`: every app's codes (mailings/errors.py,
accounts/errors.py) and Django's own field codes (`FieldCode`), each value spelt as the domain spells it.
Everything else is a GraphQL error whose `extensions.code` says what kind it is; an unexpected
exception becomes "Internal error" with an id that is in the server log, never a traceback or SQL.
"""

import enum
import logging
import uuid

import graphene
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from graphene.utils.str_converters import to_camel_case
from graphql import GraphQLError

from backend.accounts.errors import ErrorCode as AccountsErrorCode
from backend.accounts.ratelimit import RateLimited
from backend.mailings.errors import ErrorCode as MailingsErrorCode

logger = logging.getLogger("backend.api")

UNAUTHENTICATED = "UNAUTHENTICATED"
FORBIDDEN = "FORBIDDEN"
NOT_FOUND = "NOT_FOUND"
BAD_REQUEST = "BAD_REQUEST"
TOO_MANY_REQUESTS = "TOO_MANY_REQUESTS"
INTERNAL = "INTERNAL"


class FieldCode(enum.StrEnum):
    """Django's own validation codes, which the forms' fields report (their error messages and validators,
    and those of the model fields behind them). Not "null": GraphQL cannot name an enum value so, and no
    form hands a model field None where it is required (the form field's `required` comes first)."""

    BLANK = "blank"
    INVALID = "invalid"
    INVALID_CHOICE = "invalid_choice"
    INVALID_DATE = "invalid_date"
    INVALID_DATETIME = "invalid_datetime"
    INVALID_LIST = "invalid_list"
    INVALID_PK_VALUE = "invalid_pk_value"
    MAX_LENGTH = "max_length"
    NULL_CHARACTERS_NOT_ALLOWED = "null_characters_not_allowed"
    REQUIRED = "required"
    UNIQUE = "unique"
    UNIQUE_FOR_DATE = "unique_for_date"
    UNIQUE_TOGETHER = "unique_together"


# Every code a payload's `errors` can carry. The GraphQL names are the values themselves (lowercase), so the
# JSON a client reads is what it was when `code` was a string.
ERROR_CODES = sorted({*MailingsErrorCode, *AccountsErrorCode, *FieldCode})

ErrorCode = graphene.Enum(
    "ErrorCode",
    [(code, code) for code in ERROR_CODES],
    description="Stable code of an `Error`: an app's own (e.g. message_in_use, end_before_start, "
    "duplicate_email, wrong_code) or Django's for a field (e.g. required, invalid, max_length).",
)


class Error(graphene.ObjectType):
    """A problem with the input that the caller can fix."""

    field = graphene.String(description="The input field (camelCase) it is about; null for the whole input.")
    message = graphene.String(required=True, description="Translated, ready to show.")
    code = graphene.Field(ErrorCode, required=True, description="Stable: compare it, not the message.")


def _code(error: ValidationError) -> str:
    """The error's code as the enum has it; a code the enum lacks (a validator added without adding its
    code) is logged and reported as `invalid`, rather than failing the whole payload."""
    code = str(error.code or FieldCode.INVALID)
    if code in ERROR_CODES:
        return code
    logger.warning("validation code %r is not in the API's ErrorCode enum; reported as invalid", code)
    return FieldCode.INVALID.value


def errors_from(exc: ValidationError) -> list[Error]:
    """`errors { field message code }` for a ValidationError (FormInvalid carries a form: its errors per
    field; `__all__` becomes field null)."""
    form = getattr(exc, "form", None)
    if form is not None:
        by_field = form.errors.as_data()
    elif hasattr(exc, "error_dict"):
        by_field = exc.error_dict
    else:
        by_field = {None: exc.error_list}
    result = []
    for field, errors in by_field.items():
        name = None if field in (None, "__all__") else to_camel_case(field)
        for error in errors:
            message = error.message % error.params if error.params else error.message
            result.append(Error(field=name, message=str(message), code=_code(error)))
    return result


class NotFound(GraphQLError):
    """One text for "does not exist" and "belongs to someone else" (R-AUTH-4): a caller learns nothing."""

    def __init__(self) -> None:
        super().__init__(_("Not found."), extensions={"code": NOT_FOUND})


def graphql_error(message: str, code: str, **extensions) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code, **extensions})


def format_error(error: Exception) -> dict:
    """The one place an error becomes JSON. Known domain exceptions keep their message with a code;
    anything unexpected is logged with an id and masked."""
    if not isinstance(error, GraphQLError):
        error = GraphQLError(str(error), original_error=error)
    original = error.original_error
    while isinstance(original, GraphQLError) and original.original_error is not None:
        error, original = original, original.original_error
    formatted = dict(error.formatted)
    if original is None or isinstance(original, GraphQLError):
        extensions = dict(formatted.get("extensions") or {})
        extensions.setdefault("code", BAD_REQUEST)
        formatted["extensions"] = extensions
        return formatted
    if isinstance(original, PermissionDenied):
        formatted["message"] = str(original) or _("You cannot do this.")
        formatted["extensions"] = {"code": FORBIDDEN}
    elif isinstance(original, ObjectDoesNotExist):
        formatted["message"] = _("Not found.")
        formatted["extensions"] = {"code": NOT_FOUND}
    elif isinstance(original, RateLimited):
        formatted["message"] = ngettext(
            "Too many requests; try again in %(seconds)d second.",
            "Too many requests; try again in %(seconds)d seconds.",
            original.retry_after,
        ) % {"seconds": original.retry_after}
        formatted["extensions"] = {"code": TOO_MANY_REQUESTS, "retryAfter": original.retry_after}
    else:
        error_id = uuid.uuid4().hex[:12]
        logger.error("GraphQL internal error %s at %s", error_id, formatted.get("path"), exc_info=original)
        formatted["message"] = _("Internal error (id %(id)s).") % {"id": error_id}
        formatted["extensions"] = {"code": INTERNAL, "errorId": error_id}
    return formatted
