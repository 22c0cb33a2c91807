"""The open pixel and the click redirect (R-ENG-2): public, no session, no database read for an open and at
most one (by primary key, then cached) for a click; the event goes to `tracking.buffer`.

A click's link address is looked up in this process's memory (a minute), then the shared cache (a minute),
then by primary key: a link's address never changes, and a deleted mailing's links stop working within a
couple of minutes in every process.

A token that was not signed here (forged, truncated, a link of one mailing with a delivery of another)
gets a plain 404 and records nothing. A click leads only to the URL stored for that link. HEAD answers as
GET does but records nothing: link checkers and previewers use it, people do not.
"""

import time

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound, HttpResponseRedirect
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from backend.mailings.models import TrackedLink
from backend.mailings.tracking import buffer
from backend.mailings.tracking.tokens import signer

# The smallest transparent GIF (1 by 1 pixel).
PIXEL = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
LINK_CACHE_SECONDS = 60
LINK_MEMORY_SECONDS = 60.0
LINK_MEMORY_SIZE = 10_000
# link id -> (address, time.monotonic() until which it is trusted); emptied when full.
_links: dict[int, tuple[str, float]] = {}


def _not_found() -> HttpResponse:
    return HttpResponseNotFound(
        _("This link is not valid: it was changed or cut short, or its mailing was deleted.") + "\n",
        content_type="text/plain; charset=utf-8",
    )


def _user_agent(request: HttpRequest) -> str:
    return request.META.get("HTTP_USER_AGENT", "")[:255]


@require_safe
def track_open(request: HttpRequest, token: str) -> HttpResponse:
    verified = signer().verify_open(token)
    if verified is None:
        return _not_found()
    if request.method == "GET":
        buffer.record("open", verified.delivery_id, None, _user_agent(request))
    response = HttpResponse(PIXEL, content_type="image/gif")
    add_never_cache_headers(response)  # each open reaches us, not a proxy's copy
    return response


def _link_url(link_id: int) -> str | None:
    now = time.monotonic()
    remembered = _links.get(link_id)
    if remembered is not None and remembered[1] > now:
        return remembered[0]
    key = f"tracking:link:{link_id}"
    url = cache.get(key)
    if url is None:
        url = TrackedLink.objects.filter(pk=link_id).values_list("url", flat=True).first()
        if url is None:
            return None
        cache.set(key, url, LINK_CACHE_SECONDS)
    if len(_links) >= LINK_MEMORY_SIZE:
        _links.clear()
    _links[link_id] = (url, now + LINK_MEMORY_SECONDS)
    return url


@require_safe
def track_click(request: HttpRequest, token: str) -> HttpResponse:
    verified = signer().verify_click(token)
    if verified is None:
        return _not_found()
    url = _link_url(verified.link_id)
    if url is None:
        return _not_found()
    if request.method == "GET":
        buffer.record("click", verified.delivery_id, verified.link_id, _user_agent(request))
    response = HttpResponseRedirect(url)
    add_never_cache_headers(response)
    return response
