"""Per-recipient placeholders in a message's subject and bodies.

Users write `{full_name}` or `{email}`; `{{` and `}}` stand for literal braces. The text is never
evaluated as a template (no Django template engine, no `str.format` on user text): a regular expression
replaces exactly the known names, and an unknown name is a form error, not a crash at send time.
"""

import html
import re
from collections.abc import Mapping

from django.utils.translation import gettext_lazy as _

PLACEHOLDERS: Mapping[str, str] = {
    "full_name": _("the client's full name"),
    "first_name": _("the first word of the client's full name"),
    "email": _("the client's email address"),
}

_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")


def unknown_placeholders(text: str) -> list[str]:
    """Names used in `text` that are not placeholders, in order of appearance, without repeats."""
    found: list[str] = []
    for match in _TOKEN.finditer(text or ""):
        name = match.group(1)
        if name is not None and name.strip() not in PLACEHOLDERS and name not in found:
            found.append(name)
    return found


def values_for(*, full_name: str, email: str) -> dict[str, str]:
    return {
        "full_name": full_name,
        "first_name": (full_name.split() or [""])[0],
        "email": email,
    }


class Template:
    """`text` split once into literal pieces and placeholder names, for rendering it for many recipients
    (the sending engine: one per occurrence). `Template(text).render(values)` is `render(text, values)`."""

    def __init__(self, text: str, *, escape_html: bool = False):
        self.escape_html = escape_html
        pieces: list[tuple[str, str | None]] = []  # (literal, None) or (the text as written, a name)
        at = 0
        for match in _TOKEN.finditer(text):
            literal = text[at : match.start()]
            if match.group(1) is None:  # "{{" or "}}"
                literal += match.group(0)[0]
                pieces.append((literal, None))
            else:
                # An unknown name stays as written, escaped in HTML as `render` escapes it.
                written = html.escape(match.group(0)) if escape_html else match.group(0)
                pieces += [(literal, None), (written, match.group(1).strip())]
            at = match.end()
        pieces.append((text[at:], None))
        self._pieces = [(value, name) for value, name in pieces if value or name]

    def render(self, values: Mapping[str, str]) -> str:
        out = []
        for written, name in self._pieces:
            if name is None:
                out.append(written)
                continue
            value = values.get(name)
            if value is None:
                out.append(written)  # not a placeholder: left as written, as `render` does
            else:
                out.append(html.escape(value) if self.escape_html else value)
        return "".join(out)


def render(text: str, values: Mapping[str, str], *, escape_html: bool = False) -> str:
    """Replace placeholders by `values`; with `escape_html`, values are HTML-escaped (the HTML body)."""

    def substitute(match: re.Match) -> str:
        matched = match.group(0)
        if matched in ("{{", "}}"):
            return matched[0]
        value = values.get(match.group(1).strip(), matched)
        return html.escape(value) if escape_html else value

    return _TOKEN.sub(substitute, text)
