"""One way to show a moment (a date and time) on the owner pages, in the user's time zone.

The pages' scripts write the same text with Intl.DateTimeFormat (`static/js/moments.js`): the long date,
a comma, the short time (seconds only in the attempt log). So a time the server rendered and one a script
wrote later read alike: "November 27, 2026, 9:00 AM", and in Russian the same order with a 24-hour time. The
formats are the date-format counterparts of those Intl styles; a language without an entry gets Django's
DATETIME_FORMAT.
"""

import datetime as dt

from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.formats import get_format
from django.utils.translation import get_language

# (minutes, seconds) per language: Intl's dateStyle "long" + ", " + timeStyle "short" / "medium".
FORMATS = {
    "en": ("F j, Y, g:i A", "F j, Y, g:i:s A"),
    "ru": ("j E Y г., H:i", "j E Y г., H:i:s"),  # noqa: RUF001 - Cyrillic: the year mark
}


# A day alone (a blog article's date): the date part of the patterns above, Intl's dateStyle "long".
DAY_FORMATS = {"en": "F j, Y", "ru": "j E Y г."}  # noqa: RUF001 - Cyrillic: the year mark


def day_text(value: dt.date | dt.datetime | None) -> str:
    """The day of `value` (a datetime is taken in the active time zone) as the moments above write it
    ("November 27, 2026"); "" for None."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = timezone.localtime(value) if timezone.is_aware(value) else value
    language = (get_language() or "").split("-")[0]
    return date_format(value, DAY_FORMATS.get(language) or get_format("DATE_FORMAT"))


def moment_text(value: dt.datetime | None, *, seconds: bool = False) -> str:
    """`value` in the active time zone (the user's, set by UserTimezoneMiddleware) and language; "" for
    None."""
    if value is None:
        return ""
    language = (get_language() or "").split("-")[0]
    formats = FORMATS.get(language)
    pattern = formats[1 if seconds else 0] if formats else get_format("DATETIME_FORMAT")
    return date_format(timezone.localtime(value) if timezone.is_aware(value) else value, pattern)
