import random

from django.core import signing
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from backend.mailings.models import Client
from backend.mailings.services import client_unsubscribe
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


@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest, signed: str) -> HttpResponse:
    """The client's preferences (R-ENG-3); for now the unsubscribe page behind the same link."""
    return HttpResponseRedirect(reverse("web:unsubscribe", args=[signed]))


def favicon(request: HttpRequest) -> HttpResponseRedirect:
    """/favicon.ico, which browsers ask for on pages without an icon link (the admin, GraphiQL) or that
    cannot use the SVG one. Not permanent: the static file's hashed name changes with its content."""
    return HttpResponseRedirect(static("favicon.ico"))
