"""`{{ value|moment }}`, and `{{ value|moment:"seconds" }}` in the attempt log: backend/web/moments.py."""

import datetime as dt

from django import template

from backend.web.moments import moment_text

register = template.Library()


@register.filter
def moment(value, precision: str = "") -> str:
    # A missing value (None, or "" for a missing variable) shows as nothing, like the date filter.
    if not isinstance(value, dt.datetime):
        return ""
    return moment_text(value, seconds=precision == "seconds")
