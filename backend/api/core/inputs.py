"""Free-text arguments that reach a query without a form (search filters)."""

from django.utils.translation import gettext as _

from .errors import BAD_REQUEST, graphql_error


def search_text(value: str | None, name: str = "search") -> str | None:
    """`value` if the database can compare with it. PostgreSQL refuses a NUL character in any text (the
    driver raises before sending the query), so a search holding one is the caller's mistake, said as
    such, not an internal error; no stored text holds one (the forms refuse it)."""
    if value and "\x00" in value:
        raise graphql_error(_("%(name)s must not contain null characters.") % {"name": name}, BAD_REQUEST)
    return value
