"""List arguments that reach a query through the domain's FilterSets (`backend/filtering.py`)."""

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django_filters import FilterSet
from graphene.utils.str_converters import to_camel_case

from .errors import BAD_REQUEST, graphql_error


def filter_args(**args: Any) -> dict[str, Any]:
    """A resolver's filter arguments as a FilterSet's data: enums as their values, absent ones left out."""
    return {name: getattr(value, "value", value) for name, value in args.items() if value is not None}


def filtered(filterset: FilterSet) -> QuerySet:
    """The FilterSet's queryset. A value it refuses (e.g. a search holding a NUL character, which PostgreSQL
    cannot compare with) is the caller's mistake, said as such with the argument's name, never an internal
    error."""
    if not filterset.is_valid():
        name, errors = next(iter(filterset.errors.items()))
        field = to_camel_case(name)
        raise graphql_error(
            _("%(name)s: %(error)s") % {"name": field, "error": errors[0]}, BAD_REQUEST, field=field
        )
    return filterset.qs
