"""A message's HTML links as tracked redirects (R-ENG-2), worked out once per occurrence.

`TrackedHtml(mailing, html_body)` finds the `<a href>` of the body with the standard library's HTML parser,
stores each distinct URL once as a `TrackedLink` of the mailing (created in bulk, found again by its hash
when the next occurrence is prepared), and gives the body back with each such href replaced by a
placeholder of its own. Per recipient, `values(delivery_id)` only signs the delivery's tokens into those
placeholders and `pixel(delivery_id)` makes the open pixel: no parsing, no query.

Left as written: links that are not http(s) (mailto:, tel:, #anchors, relative ones), links with a
placeholder in them (their URL differs per recipient, and a redirect must lead to one stored URL; such a
link is not counted), and Mailer's own unsubscribe and preferences pages. The footer's links are added
after this step and never rewritten; nor is the plain-text part.
"""

from __future__ import annotations

import hashlib
import html
import re
from html.parser import HTMLParser

from django.conf import settings
from django.urls import reverse

from ..models import Mailing, TrackedLink
from .tokens import signer

_HREF = re.compile(r"""(\shref\s*=\s*)("[^"]*"|'[^']*'|[^\s"'=<>`]+)""", re.IGNORECASE)
_MARKER = "TRACKING-TOKEN-MARKER"
PLACEHOLDER = "__tracked_link_{}"


def url_hash(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()


class _Anchors(HTMLParser):
    """The offsets of the start tags of <a> elements in the source."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self._line_starts = [0]
        for line in source.splitlines(keepends=True):
            self._line_starts.append(self._line_starts[-1] + len(line))
        self.tags: list[tuple[int, str, str | None]] = []
        self.feed(source)
        self.close()

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag == "a":
            line, column = self.getpos()
            href = dict(attrs).get("href")
            self.tags.append((self._line_starts[line - 1] + column, self.get_starttag_text() or "", href))

    handle_startendtag = handle_starttag


def _trackable(url: str) -> bool:
    if "{" in url or "}" in url or not url.lower().startswith(("http://", "https://")):
        return False
    own = (reverse("web:unsubscribe", args=["x"])[:-2], reverse("web:preferences", args=["x"])[:-2])
    return not any(url.startswith(settings.SITE_URL + path) for path in own)


def _endpoint(name: str) -> tuple[str, str]:
    url = settings.SITE_URL + reverse(name, args=[_MARKER])
    before, after = url.split(_MARKER)
    return before, after


_BLANKS = re.compile(r"[\t\n\r]")


class TrackedHtml:
    """The HTML body with tracked links, for one mailing (see the module's docstring)."""

    def __init__(self, mailing: Mailing, source: str) -> None:
        found: list[tuple[int, int, str]] = []  # (start, end) of the href value in the source, the URL
        for offset, text, href in _Anchors(source).tags:
            match = _HREF.search(text)
            if not match or href is None:
                continue
            value = match.group(2)
            url = html.unescape(value[1:-1] if value[0] in "\"'" else value).strip()
            # The parser's href must be the one found (not " href=" inside another attribute's value).
            # Browsers drop tabs and line breaks from a URL (WHATWG URL): so does the stored one.
            if url == href.strip() and _trackable(url := _BLANKS.sub("", url)):
                start = offset + match.start(2)
                found.append((start, start + len(value), url))
        self.links = self._links(mailing, {url for _, _, url in found})
        pieces, at = [], 0
        for start, end, url in found:
            pieces += [source[at:start], '"{' + PLACEHOLDER.format(self.links[url]) + '}"']
            at = end
        pieces.append(source[at:])
        self.html = "".join(pieces)
        self._urls = {PLACEHOLDER.format(link_id): url for url, link_id in self.links.items()}
        self._names = [PLACEHOLDER.format(link_id) for link_id in self.links.values()]
        self._hex_ids = [f"{link_id:x}" for link_id in self.links.values()]
        self._click = _endpoint("web:track_click")
        self._open = _endpoint("web:track_open")
        self._signer = signer()

    @staticmethod
    def _links(mailing: Mailing, urls: set[str]) -> dict[str, int]:
        """URL → TrackedLink id, creating the missing ones: two queries however many links."""
        if not urls:
            return {}
        hashes = {url_hash(url): url for url in urls}
        TrackedLink.objects.bulk_create(
            [TrackedLink(mailing=mailing, url=url, url_hash=key) for key, url in hashes.items()],
            ignore_conflicts=True,
        )
        rows = TrackedLink.objects.filter(mailing=mailing, url_hash__in=list(hashes)).values_list(
            "url_hash", "pk"
        )
        return {hashes[key]: pk for key, pk in rows}

    def values(self, delivery_id: int | None) -> dict[str, str]:
        """The placeholders' values for one recipient: the signed redirects, or, without a delivery (a
        preview, a test send), the original URLs."""
        if delivery_id is None:
            return dict(self._urls)
        before, after = self._click
        tokens = self._signer.click_tokens(delivery_id, self._hex_ids)
        return {name: f"{before}{token}{after}" for name, token in zip(self._names, tokens, strict=True)}

    def pixel(self, delivery_id: int | None) -> str:
        if delivery_id is None:
            return ""
        before, after = self._open
        src = f"{before}{self._signer.open_token(delivery_id)}{after}"
        return f'\n<img src="{src}" width="1" height="1" alt="" style="display:block;border:0">'
