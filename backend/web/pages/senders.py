"""Sender identities and domains (R-DLV-1, R-DLV-2): the owner's list with each one's status, create, edit
and delete an identity, send its confirmation link again, add a domain and check its DKIM record; the
public page a confirmation link opens; the managers' list of every identity with a revoke form.

Every write is a service call (services/senders.py); every lookup an owner-scoped selector (another owner's
id is a 404). The confirmation link's page changes nothing on GET: mail scanners open links.
"""

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Model, Q
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views import View

from backend.accounts import roles
from backend.accounts.ratelimit import RateLimited
from backend.mailings import selectors, services
from backend.mailings.forms import SenderDomainForm, SenderIdentityForm
from backend.mailings.models import SenderDomain, SenderIdentity

from .generic import (
    OwnerCreateView,
    OwnerDeleteView,
    OwnerEditView,
    OwnerObjectMixin,
    OwnerPageMixin,
    error_text,
)

LIST_URL = reverse_lazy("senders:list")


def identity_status(identity: SenderIdentity) -> tuple[str, str]:
    """(key, label) of an identity's state, as the lists show it (`is_usable`: selectors.with_usability)."""
    if identity.revoked_at is not None:
        return "revoked", _("revoked")
    if identity.confirmed_at is not None:
        return "confirmed", _("confirmed")
    if identity.is_usable:
        return "domain", _("usable: its domain is verified")
    return "awaiting", _("awaiting confirmation")


def _rate_limited_text(exc: RateLimited) -> str:
    minutes = exc.retry_after_minutes
    return ngettext(
        "Too many requests; try again in %(minutes)d minute.",
        "Too many requests; try again in %(minutes)d minutes.",
        minutes,
    ) % {"minutes": minutes}


class SenderList(OwnerPageMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        identities = [
            (identity, *identity_status(identity))
            for identity in selectors.with_usability(selectors.sender_identities_for(user)).order_by(
                "from_email", "pk"
            )
        ]
        domains = list(selectors.sender_domains_for(user).order_by("domain", "pk"))
        return render(
            request,
            "web/senders/list.html",
            {"identities": identities, "domains": domains, "title": _("Senders")},
        )


class IdentityObjectMixin:
    list_url = LIST_URL

    def lookup(self, pk: int) -> Model:
        return selectors.sender_identities_for(self.request.user).get(pk=pk)


def _saved_text(identity: SenderIdentity) -> str:
    if (
        identity.confirmed_at is not None
        or selectors.usable_senders(identity.owner).filter(pk=identity.pk).exists()
    ):
        return _("Sender “%(sender)s” saved; it can be used.") % {"sender": identity}
    if identity.confirmation_sent_at is not None:
        return _("Sender “%(sender)s” saved. A confirmation link was sent to %(email)s.") % {
            "sender": identity,
            "email": identity.from_email,
        }
    return _(
        "Sender “%(sender)s” saved, but the confirmation could not be sent; use “Send the link again”."
    ) % {"sender": identity}


class _RateLimitedForm:
    """A create or edit that sends a link may be refused for sending too many: the form stays, with why."""

    def saved(self, perform, *, invalid_form, title: str, message) -> HttpResponse:
        try:
            return super().saved(perform, invalid_form=invalid_form, title=title, message=message)
        except RateLimited as exc:
            messages.error(self.request, _rate_limited_text(exc))
            return self.render_form(invalid_form(), title=title)


class IdentityCreate(_RateLimitedForm, OwnerCreateView):
    form_class = SenderIdentityForm
    list_url = LIST_URL
    title = gettext_lazy("New sender")

    def perform_create(self, data: QueryDict) -> SenderIdentity:
        return services.sender_create(actor=self.request.user, data=data)

    def created_message(self, obj: SenderIdentity) -> str:
        return _saved_text(obj)


class IdentityEdit(_RateLimitedForm, IdentityObjectMixin, OwnerEditView):
    form_class = SenderIdentityForm

    def get_object(self, pk: int) -> Model:
        identity = super().get_object(pk)
        if identity.revoked_at is not None:
            raise PermissionDenied(_("A manager revoked this sender; it cannot be changed."))
        return identity

    def perform_update(self, obj: SenderIdentity, data: QueryDict) -> SenderIdentity:
        return services.sender_update(actor=self.request.user, identity=obj, data=data)

    def edit_title(self, obj: SenderIdentity) -> str:
        return _("Edit sender “%(sender)s”") % {"sender": obj}

    def updated_message(self, obj: SenderIdentity) -> str:
        return _saved_text(obj)


class IdentityDelete(IdentityObjectMixin, OwnerDeleteView):
    def perform_delete(self, obj: SenderIdentity) -> None:
        services.sender_delete(actor=self.request.user, identity=obj)

    def delete_title(self, obj: SenderIdentity) -> str:
        return _("Delete sender “%(sender)s”?") % {"sender": obj}

    def deleted_message(self, label: str) -> str:
        return _("Sender “%(sender)s” deleted.") % {"sender": label}

    def consequences(self, obj: SenderIdentity) -> list[str]:
        count = obj.mailings.count()
        if not count:
            return []
        return [
            ngettext(
                "%(count)d mailing uses it; it will be sent from the service's address with your name.",
                "%(count)d mailings use it; they will be sent from the service's address with your name.",
                count,
            )
            % {"count": count}
        ]


class IdentityResend(IdentityObjectMixin, OwnerObjectMixin, View):
    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        identity = self.get_object(pk)
        try:
            services.sender_send_confirmation(actor=request.user, identity=identity)
        except RateLimited as exc:
            messages.error(request, _rate_limited_text(exc))
        except ValidationError as exc:
            messages.error(request, error_text(exc))
        else:
            messages.success(
                request, _("A new confirmation link was sent to %(email)s.") % {"email": identity.from_email}
            )
        return redirect(LIST_URL)


class DomainObjectMixin:
    list_url = LIST_URL

    def lookup(self, pk: int) -> Model:
        return selectors.sender_domains_for(self.request.user).get(pk=pk)


class DomainAdd(OwnerCreateView):
    form_class = SenderDomainForm
    list_url = LIST_URL
    title = gettext_lazy("Add a sending domain")

    def perform_create(self, data: QueryDict) -> SenderDomain:
        return services.sender_domain_add(actor=self.request.user, data=data)

    def created_message(self, obj: SenderDomain) -> str:
        return _("Domain %(domain)s added: publish the record below, then check it.") % {"domain": obj.domain}

    def success_url(self, obj: SenderDomain) -> str:
        return reverse("senders:domain", args=[obj.pk])


class DomainDetail(DomainObjectMixin, OwnerObjectMixin, View):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        domain = self.get_object(pk)
        context = {"domain": domain, "record": services.dns_record(domain), "title": domain.domain}
        return render(request, "web/senders/domain.html", context)


class DomainCheck(DomainObjectMixin, OwnerObjectMixin, View):
    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        domain = self.get_object(pk)
        try:
            domain = services.sender_domain_check(actor=request.user, domain=domain)
        except RateLimited as exc:
            messages.error(request, _rate_limited_text(exc))
        else:
            if domain.verified_at is not None:
                messages.success(request, _("%(domain)s is verified.") % {"domain": domain.domain})
            else:
                messages.warning(request, domain.check_result)
        return redirect(reverse("senders:domain", args=[domain.pk]))


class DomainDelete(DomainObjectMixin, OwnerDeleteView):
    def perform_delete(self, obj: SenderDomain) -> None:
        services.sender_domain_delete(actor=self.request.user, domain=obj)

    def delete_title(self, obj: SenderDomain) -> str:
        return _("Delete the domain %(domain)s?") % {"domain": obj.domain}

    def deleted_message(self, label: str) -> str:
        return _("Domain %(domain)s deleted.") % {"domain": label}

    def consequences(self, obj: SenderDomain) -> list[str]:
        return [
            _(
                "Its key is deleted: mail is no longer signed with it, and addresses at it need their own "
                "confirmation."
            )
        ]


class Confirm(View):
    """The page a confirmation link opens, for whoever reads the mailbox (no sign-in): GET shows what is
    confirmed and a button, POST confirms."""

    def _page(
        self, request: HttpRequest, identity, *, error: str = "", done: bool = False, status: int = 200
    ):
        context = {"identity": identity, "error": error, "done": done}
        return render(request, "web/senders/confirm.html", context, status=status)

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        identity = selectors.sender_by_token(token)
        if identity is None:
            return self._page(
                request,
                None,
                error=_("This confirmation link is not valid; it may have been replaced by a newer one."),
                status=404,
            )
        if identity.revoked_at is not None:
            return self._page(
                request, identity, error=_("A manager revoked this sender; it cannot be confirmed.")
            )
        if identity.confirmed_at is not None:
            return self._page(request, identity, done=True)
        expires = services.confirmation_expires_at(identity)
        if expires is None or expires <= timezone.now():
            return self._page(
                request,
                identity,
                error=_("This confirmation link has expired; the sender's owner can send a new one."),
            )
        return self._page(request, identity)

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        try:
            identity = services.sender_confirm(token=token)
        except ValidationError as exc:
            return self._page(request, selectors.sender_by_token(token), error=error_text(exc), status=400)
        return self._page(request, identity, done=True)


class ManagerSenders(View):
    """/manager/senders/: every owner's identities with their status; a revoke form on each."""

    per_page = 50

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not roles.may_revoke_senders(request.user):
            raise PermissionDenied(_("This page is for the service's managers."))
        return super().dispatch(request, *args, **kwargs)

    def get(self, request: HttpRequest) -> HttpResponse:
        identities = selectors.all_sender_identities(request.user)
        query = request.GET.get("q", "").strip()[:200]
        if query:
            identities = identities.filter(Q(from_email__icontains=query) | Q(owner__email__icontains=query))
        page = Paginator(selectors.with_usability(identities), self.per_page).get_page(
            request.GET.get("page")
        )
        rows = [(identity, *identity_status(identity)) for identity in page.object_list]
        return render(request, "web/senders/manager.html", {"rows": rows, "page": page, "query": query})


class ManagerRevoke(View):
    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not roles.may_revoke_senders(request.user):
            raise PermissionDenied(_("This page is for the service's managers."))
        identity = selectors.all_sender_identities(request.user).filter(pk=pk).first()
        if identity is None:
            raise Http404
        try:
            services.sender_revoke(
                actor=request.user, identity=identity, reason=request.POST.get("reason", "")
            )
        except ValidationError as exc:
            messages.error(request, error_text(exc))
        else:
            messages.success(request, _("Sender %(sender)s revoked.") % {"sender": identity.from_email})
        return redirect(reverse("web:manager_senders"))
