"""Log line formats: human-readable by default, one JSON object per line with LOG_FORMAT=json.

Both escape control characters in what a line quotes: an SMTP server's answer (seen: `\x1b[31m`, which
recolours a terminal), a request path, an exception's text. A raw line break in a message could forge a
whole log line, and a raw escape sequence can hide or rewrite what an operator sees. They are written as
Python-style escapes (`\x1b`, `\n`, `\u2028`), so the text stays readable and greppable. In JSON the message
holds those escapes as text: a consumer that prints a parsed message prints `\x1b`, not an escape sequence.
Tracebacks keep their line breaks in the plain format (JSON encodes them inside one line).

Nothing here imports Django, so gunicorn's own configuration can use these formatters before Django starts.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re

# C0 and C1 controls, DEL, the Unicode line and paragraph separators, and the bidirectional overrides
# and isolates (which reorder what a terminal shows).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_CONTROL_BUT_NEWLINE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_one(match: re.Match) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str, *, keep_newlines: bool = False) -> str:
    """`text` with every control character written as an escape (line breaks kept when asked)."""
    return (_CONTROL_BUT_NEWLINE if keep_newlines else _CONTROL).sub(_escape_one, text)


class PlainFormatter(logging.Formatter):
    """The default, human-readable line, with control characters escaped."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = escape_controls(record.message)
        return super().formatMessage(record)

    def formatException(self, ei) -> str:
        return escape_controls(super().formatException(ei), keep_newlines=True)

    def formatStack(self, stack_info: str) -> str:
        return escape_controls(super().formatStack(stack_info), keep_newlines=True)


# What every LogRecord carries; anything else on a record came from a call's `extra=`.
_STANDARD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def _json_value(value):
    if value is None or isinstance(value, bool | int | float):
        return value
    return escape_controls(value if isinstance(value, str) else str(value))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, then whatever the call
    passed in `extra=` (the engine's `mailing_id`, `occurrence_id`, `delivery_id`), and the traceback as
    `exception` when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        moment = dt.datetime.fromtimestamp(record.created, dt.UTC)
        data = {
            "time": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": escape_controls(record.getMessage()),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRIBUTES and not key.startswith("_") and key not in data:
                data[key] = _json_value(value)
        if record.exc_info:
            data["exception"] = escape_controls(self.formatException(record.exc_info), keep_newlines=True)
        elif record.exc_text:
            data["exception"] = escape_controls(record.exc_text, keep_newlines=True)
        if record.stack_info:
            data["stack"] = escape_controls(self.formatStack(record.stack_info), keep_newlines=True)
        return json.dumps(data, ensure_ascii=False)


class ForbiddenOneLine(logging.Filter):
    """Django logs a PermissionDenied with its traceback and a CSRF failure without the user: both become one
    line, `Forbidden (<reason>): <method> <path> status=403 user=<id or ->`. A 403 is an answer, not a fault:
    a traceback per refused visitor would bury the real errors. On the loggers django.request and
    django.security.csrf, so every handler (and every test's caplog) sees the same record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) != 403:
            return True
        record.exc_info = None
        record.exc_text = None
        request = getattr(record, "request", None)
        if request is None:
            return True
        message = record.getMessage()
        path = record.args[-1] if isinstance(record.args, tuple) and record.args else ""
        head = message[: -len(path) - 2] if path and message.endswith(f": {path}") else message
        record.msg = "%s: %s %s status=%d user=%s"
        record.args = (head, request.method, request.path, 403, _user_id(request))
        return True


def _user_id(request) -> str:
    try:
        user = request.user
        return str(user.pk) if user.is_authenticated else "-"
    except Exception:  # no auth middleware ran, or the session store is down: the line still goes out
        return "-"


def logging_config(*, log_format: str, level: str) -> dict:
    """The `LOGGING` dict for settings.py: every line through one console handler in `log_format`."""
    loggers = {
        # Django's default config gives "django" a console handler of its own; don't print twice.
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.request": {"filters": ["forbidden"]},
        "django.security.csrf": {"filters": ["forbidden"]},
        "apscheduler": {"level": "WARNING"},
        "django.db.backends": {"level": "WARNING"},
        # flufl.bounce logs every detector it runs at INFO, and one that trips over a malformed mail at ERROR
        # with a traceback; the bounce reader expects garbage, keeps the mail and says so once (parse.py).
        "flufl.bounce": {"level": "CRITICAL"},
    }
    if log_format == "json":
        # runserver's request lines have a handler and format of their own; in JSON they join the rest.
        loggers["django.server"] = {"handlers": ["console"], "level": "INFO", "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "plain": {"()": PlainFormatter, "fmt": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
            "json": {"()": JsonFormatter},
        },
        "filters": {"forbidden": {"()": ForbiddenOneLine}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": log_format}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": loggers,
    }
