import random
from urllib.parse import urlsplit

from django.core import signing
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.templatetags.static import static
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from backend.mailings import selectors
from backend.mailings.models import Client, ClientTag
from backend.mailings.services import client_preferences_set, client_unsubscribe
from backend.mailings.unsubscribe import is_test_send_token, unsubscribe_token_from
from cms.cache import article_cards

from .stats import home_stats


def home(request: HttpRequest) -> HttpResponse:
    """Public: live counts and three random articles (R-HOME-1); a warm cache makes it query-free."""
    cards = article_cards()
    return render(
        request,
        "web/home.html",
        {"stats": home_stats(), "articles": random.sample(cards, min(3, len(cards)))},
    )


# RFC 8058 one-click: mail providers POST "List-Unsubscribe=One-Click" without any CSRF token; the signed,
# unguessable link is the credential.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, signed: str) -> HttpResponse:
    """GET asks for confirmation (link scanners must not unsubscribe anyone); POST unsubscribes."""
    try:
        token = unsubscribe_token_from(signed)
        if is_test_send_token(token):
            # A test send's link (the owner trying their message): it works, and unsubscribes nobody.
            return render(request, "web/unsubscribe.html", {"test_send": True})
        client = Client.objects.select_related("owner").get(unsubscribe_token=token)
    except (signing.BadSignature, Client.DoesNotExist):
        return render(request, "web/unsubscribe.html", {"invalid": True}, status=404)
    if request.method == "POST":
        client = client_unsubscribe(client=client)
        return render(request, "web/unsubscribe.html", {"client": client, "done": True})
    return render(
        request, "web/unsubscribe.html", {"client": client, "done": client.unsubscribed_at is not None}
    )


def _same_origin(request: HttpRequest) -> bool:
    """False when the browser says the POST comes from a page of another site (its Origin header); a request
    without the header (an older browser, a mail app) passes: the signed link is the credential anyway."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc.lower() == request.get_host().lower()


# No CSRF token (it needs a cookie that a mail app's browser may not keep, and this page has no session):
# the signed, unguessable link is the credential, so another site cannot build a POST that does anything,
# and a browser's Origin header naming another site is refused besides. A GET changes nothing (scanners).
@csrf_exempt
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest, signed: str) -> HttpResponse:
    """The client's preferences (R-ENG-3): their address, their owner's public tags to take or drop, and
    "unsubscribe from everything"."""
    try:
        token = unsubscribe_token_from(signed)
        if is_test_send_token(token):
            # A test send's link, as on the unsubscribe page: it works, and changes nobody's preferences.
            return render(request, "web/unsubscribe.html", {"test_send": True})
        client = Client.objects.get(unsubscribe_token=token)
    except (signing.BadSignature, Client.DoesNotExist):
        return render(request, "web/preferences.html", {"invalid": True}, status=404)
    tags = list(selectors.public_tags(client.owner_id))
    context = {"client": client, "tags": tags}
    status = 200
    if request.method == "POST":
        action = request.POST.get("action")
        if not _same_origin(request):
            context["error"] = _("This change was sent from another site and was not made.")
            status = 403
        elif action == "unsubscribe":
            client = client_unsubscribe(client=client)
            context.update(client=client, unsubscribed=True)
        elif action == "save":
            try:
                client_preferences_set(client=client, tag_ids=request.POST.getlist("tags"))
            except ValidationError as exc:
                context["error"] = " ".join(exc.messages)
                status = 400
            else:
                context["saved"] = True
        else:
            context["error"] = _("Choose what to do: save your choices or unsubscribe.")
            status = 400
    chosen = set(ClientTag.objects.filter(client=client, tag__in=tags).values_list("tag_id", flat=True))
    context["rows"] = [(tag, tag.pk in chosen) for tag in tags]
    return render(request, "web/preferences.html", context, status=status)


def favicon(request: HttpRequest) -> HttpResponseRedirect:
    """/favicon.ico, which browsers ask for on pages without an icon link (the admin, GraphiQL) or that
    cannot use the SVG one. Not permanent: the static file's hashed name changes with its content."""
    return HttpResponseRedirect(static("favicon.ico"))
