"""The public side of sign-up forms (R-ENG-1): the hosted page, the endpoint that the hosted page and the
snippets pasted on owners' sites post to, the "check your mail" page and the confirmation link's page.

They face the whole internet: no session, no sign-in, a fixed small number of queries. The decisions are the
service's (services/signups.py); here HTTP is translated: bad input gets a page that says what is wrong and
an honest status, never a 500.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from backend.accounts import ratelimit
from backend.accounts.throttling import client_ip
from backend.mailings import selectors, services
from backend.mailings.errors import ErrorCode
from backend.mailings.forms import SubscribeForm
from backend.mailings.models import SignupForm
from backend.mailings.services.signups import require_open

from .pages.generic import error_text

STATUS = {
    ErrorCode.SIGNUP_CLOSED: 403,
    ErrorCode.SIGNUP_QUOTA: 503,
    ErrorCode.SIGNUP_NOT_SENT: 503,
    ErrorCode.SIGNUP_LINK_INVALID: 400,
    ErrorCode.SIGNUP_LINK_EXPIRED: 410,
    ErrorCode.SIGNUP_FORM_CHANGED: 409,
}


def _status(exc: ValidationError) -> int:
    return STATUS.get(getattr(exc, "code", None), 400)


def _page(
    request: HttpRequest,
    signup_form: SignupForm | None,
    *,
    form: SubscribeForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    context = {
        "signup_form": signup_form,
        "form": form or SubscribeForm(),
        "error": error,
        # The form stays on the page after a refusal the visitor may retry (a limit, the mail server).
        "open": signup_form is not None and not _closed_text(signup_form),
    }
    return render(request, "web/subscribe/page.html", context, status=status)


def _closed_text(signup_form: SignupForm) -> str:
    """Why the form takes no sign-ups now, or ""."""
    try:
        require_open(signup_form)
    except ValidationError as exc:
        return error_text(exc)
    return ""


def _too_large(request: HttpRequest) -> bool:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return True
    return length > settings.SIGNUP_MAX_BODY_BYTES


# The snippet an owner pastes on their own site posts here from another origin, where no CSRF token of ours
# can be: the endpoint is exempt. What it can do is only ask for a confirmation mail, and it is protected by
# the honeypot field, the per-visitor and per-address limits and double opt-in (nothing is created until the
# mailbox's owner follows the link).
@csrf_exempt
@require_http_methods(["GET", "POST"])
def subscribe(request: HttpRequest, public_id: str) -> HttpResponse:
    """GET: the hosted page. POST: a sign-up; then the "check your mail" page, whether or not the address is
    already subscribed (no enumeration)."""
    signup_form = selectors.signup_form_public(public_id)
    if signup_form is None:
        return _page(request, None, error=_("This sign-up form does not exist."), status=404)
    if request.method == "GET":
        closed = _closed_text(signup_form)
        return _page(request, signup_form, error=closed, status=403 if closed else 200)
    if _too_large(request):
        return _page(request, signup_form, error=_("What was sent is too large for this form."), status=413)
    form = SubscribeForm(request.POST)
    if form.is_bot:
        # A bot filled the field people never see: it is shown what people are shown, and nothing is sent.
        return redirect("web:subscribe_sent", public_id=signup_form.public_id)
    if not form.is_valid():
        return _page(request, signup_form, form=form, status=400)
    try:
        services.signup_request(
            signup_form=signup_form,
            email=form.cleaned_data["email"],
            full_name=form.cleaned_data["full_name"],
            ip=client_ip(request) or None,
        )
    except ratelimit.RateLimited as exc:
        response = _page(
            request,
            signup_form,
            error=_("Too many sign-ups from your network. Please try again in %(minutes)d minutes.")
            % {"minutes": exc.retry_after_minutes},
            status=429,
        )
        response["Retry-After"] = str(exc.retry_after)
        return response
    except ValidationError as exc:
        return _page(request, signup_form, form=form, error=error_text(exc), status=_status(exc))
    return redirect("web:subscribe_sent", public_id=signup_form.public_id)


@require_http_methods(["GET"])
def subscribe_sent(request: HttpRequest, public_id: str) -> HttpResponse:
    signup_form = selectors.signup_form_public(public_id)
    if signup_form is None:
        return _page(request, None, error=_("This sign-up form does not exist."), status=404)
    return render(request, "web/subscribe/sent.html", {"signup_form": signup_form})


# The token in the address is the credential (it reaches only the mailbox it was sent to), so a page of
# another site cannot post here usefully: no CSRF token, which would need a cookie the visitor's mail app
# may not keep. A GET never confirms: mail scanners open links.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def subscribe_confirm(request: HttpRequest, public_id: str, token: str) -> HttpResponse:
    """GET shows what is confirmed and a button; POST confirms. Twice is harmless."""
    try:
        pending, signup_form = services.signup_pending(token=token, public_id=public_id)
    except ValidationError as exc:
        context = {"error": error_text(exc), "signup_form": selectors.signup_form_public(public_id)}
        return render(request, "web/subscribe/confirm.html", context, status=_status(exc))
    if request.method == "GET":
        context = {"pending": pending, "signup_form": signup_form}
        return render(request, "web/subscribe/confirm.html", context)
    try:
        client, signup_form = services.signup_confirm(
            token=token,
            public_id=public_id,
            ip=client_ip(request) or None,
            user_agent=request.headers.get("User-Agent", ""),
        )
    except ValidationError as exc:
        context = {"error": error_text(exc), "signup_form": signup_form}
        return render(request, "web/subscribe/confirm.html", context, status=_status(exc))
    return render(
        request, "web/subscribe/confirm.html", {"done": True, "client": client, "signup_form": signup_form}
    )
