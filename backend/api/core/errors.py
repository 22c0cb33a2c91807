"""How errors leave the API.

A mistake the user can fix comes back in the mutation's payload as `errors { field message code }`, built here
from the domain's `ValidationError`s (a bound form's errors per field, or a service's error with its
`ErrorCode`). Everything else is a GraphQL error whose `extensions.code` says what kind it is; an unexpected
exception becomes "Internal error" with an id that is in the server log, never a traceback or SQL.
"""

import logging
import uuid

import graphene
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from graphene.utils.str_converters import to_camel_case
from graphql import GraphQLError

from backend.accounts.ratelimit import RateLimited

logger = logging.getLogger("backend.api")

UNAUTHENTICATED = "UNAUTHENTICATED"
FORBIDDEN = "FORBIDDEN"
NOT_FOUND = "NOT_FOUND"
BAD_REQUEST = "BAD_REQUEST"
TOO_MANY_REQUESTS = "TOO_MANY_REQUESTS"
INTERNAL = "INTERNAL"


class Error(graphene.ObjectType):
    """A problem with the input that the caller can fix."""

    field = graphene.String(description="The input field (camelCase) it is about; null for the whole input.")
    message = graphene.String(required=True, description="Translated, ready to show.")
    code = graphene.String(
        required=True,
        description="Stable code: the domain's ErrorCode (e.g. message_in_use) or the validation code "
        "(e.g. required, invalid, end_before_start, duplicate_email).",
    )


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
            result.append(Error(field=name, message=str(message), code=str(error.code or "invalid")))
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
