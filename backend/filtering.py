"""What every list's FilterSet shares (django-filter): the free-text search, the yes/no choice, the
lenient/strict reading of a bound FilterSet, and sorting with the primary key as tie-breaker.

A list's filters are declared once, in its app's `filters.py`, and the selectors bind them to what the user
may see; a page reads `.qs` (a value that is not valid is left out, as it came from a URL) and shows the
form's errors, the API reads `.errors` first and answers a field error.
"""

from collections.abc import Sequence
from functools import reduce
from operator import or_

import django_filters
from django import forms
from django.core.validators import ProhibitNullCharactersValidator
from django.db.models import F, Q, QuerySet
from django.utils.translation import gettext_lazy as _


class SearchField(forms.CharField):
    """Free text, stripped. A NUL character cannot be in any stored text and PostgreSQL refuses it in a
    query (the driver raises before sending it), so a search holding one is refused, on every database, as
    the caller's mistake rather than an internal error."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.validators = [
            validator
            for validator in self.validators
            if not isinstance(validator, ProhibitNullCharactersValidator)
        ]
        self.validators.append(
            ProhibitNullCharactersValidator(message=_("Must not contain null characters."))
        )


class SearchFilter(django_filters.CharFilter):
    """Any letter case, in any of `fields`. With `words`, every word of the text must be in one of the
    fields (a name typed as "first last"); without, the text as typed is (an email or a phrase)."""

    field_class = SearchField

    def __init__(self, *, fields: Sequence[str], words: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.fields = tuple(fields)
        self.words = words

    def filter(self, qs: QuerySet, value: str) -> QuerySet:
        if not value:
            return qs
        for part in value.split() if self.words else [value]:
            qs = qs.filter(reduce(or_, (Q(**{f"{name}__icontains": part}) for name in self.fields)))
        return qs


class YesNoField(forms.TypedChoiceField):
    """A yes/no choice read from a URL ("yes", "no") or given as a boolean (the API's `Boolean`)."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("coerce", lambda value: value == "yes")
        kwargs.setdefault("empty_value", None)
        super().__init__(**kwargs)

    def to_python(self, value):
        if isinstance(value, bool):
            value = "yes" if value else "no"
        return super().to_python(value)


class YesNoFilter(django_filters.Filter):
    """`field_name` equals the answer; `choices` label the empty, "yes" and "no" options."""

    field_class = YesNoField


class ListFilterSet(django_filters.FilterSet):
    """A list's filters. `.qs` applies the valid values and leaves out the others (a page's URL);
    `.errors` says which were refused (the API answers them as field errors)."""

    def value(self, name: str):
        """The field's valid value; None when absent, empty or refused (or when no filters were given)."""
        self.is_valid()
        return getattr(self.form, "cleaned_data", {}).get(name)

    @property
    def chosen(self) -> bool:
        """Whether any filter narrows the list (valid values only)."""
        self.is_valid()
        return any(value not in (None, "") for value in getattr(self.form, "cleaned_data", {}).values())


def ordered(queryset: QuerySet, *fields: str) -> QuerySet:
    """`queryset` sorted by `fields` ("name" or "-name"), empty values last either way, then by the primary
    key in the first field's direction: a row never shows on two pages, or on none, and a cursor never skips
    or repeats one."""
    descending = bool(fields) and fields[0].startswith("-")
    expressions = [
        F(name[1:]).desc(nulls_last=True) if name.startswith("-") else F(name).asc(nulls_last=True)
        for name in fields
    ]
    return queryset.order_by(*expressions, "-pk" if descending else "pk")
