"""`{{ value|moment }}`, and `{{ value|moment:"seconds" }}` in the attempt log; `{{ value|day }}` for a date
alone (the blog's): backend/web/moments.py."""

import datetime as dt

from django import template

from backend.web.moments import day_text, moment_text

register = template.Library()


@register.filter
def moment(value, precision: str = "") -> str:
    # A missing value (None, or "" for a missing variable) shows as nothing, like the date filter.
    if not isinstance(value, dt.datetime):
        return ""
    return moment_text(value, seconds=precision == "seconds")


@register.filter
def day(value) -> str:
    if not isinstance(value, dt.date):
        return ""
    return day_text(value)
