"""Messages (R-DATA-2, R-AUTH-4): list, write, edit, delete, preview for a client, send a test."""

import re
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views import View

from backend.accounts import roles
from backend.accounts.ratelimit import RateLimited
from backend.filtering import ordered
from backend.mailings import answers, selectors, services
from backend.mailings.filters import MessageFilter
from backend.mailings.forms import MessageForm
from backend.mailings.models import Client, Message, SenderIdentity
from backend.mailings.sending.transport import open_connection

from ..moments import moment_text
from .generic import (
    Action,
    Column,
    OwnerCreateView,
    OwnerDeleteView,
    OwnerEditView,
    OwnerListView,
    OwnerObjectMixin,
    error_text,
)

LIST_URL = reverse_lazy("messages:list")
# Put before the previewed HTML in its sandboxed frame, whose relative addresses would otherwise resolve
# against this page and make the browser ask this site for them (<img src=x> -> /messages/4/preview/x).
# The policy lets in only what a mail program shows (https and data: images, inline styles); relative
# addresses resolve against a host that cannot exist, over http, which the policy refuses before any
# request, so even on an https site nothing of ours is fetched.
PREVIEW_BASE = "http://preview.invalid/"
PREVIEW_FRAME_HEAD = (
    '<meta http-equiv="Content-Security-Policy" '
    "content=\"default-src 'none'; img-src https: data:; style-src 'unsafe-inline'\">"
    f'<base href="{PREVIEW_BASE}">'
)
# A srcdoc frame is held to its page's Content-Security-Policy as well as its own, so the preview page lets
# in what the frame's policy lets in, and that <base> (refused, relative addresses would resolve against
# this site again); the page's own template has no inline style, no <base> and loads no outside image.
PREVIEW_PAGE_CSP = {
    "img-src": ["'self'", "https:", "data:"],
    "style-src": ["'self'", "'unsafe-inline'"],
    "base-uri": [PREVIEW_BASE],
}


class MessageList(OwnerListView):
    title = gettext_lazy("Messages")
    add_url = reverse_lazy("messages:new")
    add_label = gettext_lazy("Write a message")
    default_sort = "-updated"
    no_match_text = gettext_lazy("No message matches your search.")
    empty_text = gettext_lazy("No messages yet. Write the first one; a mailing sends it to your clients.")
    columns = [
        Column("subject", gettext_lazy("Subject"), lambda m: m.subject, ("subject",), link=True),
        Column(
            "text",
            gettext_lazy("Text"),
            lambda m: Truncator(m.body).chars(80),
            classes="d-none d-lg-table-cell text-body-secondary",
        ),
        Column(
            "mailings",
            gettext_lazy("Mailings"),
            lambda m: m.mailings_count,
            ("mailings_count",),
            classes="d-none d-sm-table-cell",
        ),
        Column(
            "updated",
            gettext_lazy("Updated"),
            lambda m: moment_text(m.updated_at),
            ("updated_at",),
            classes="d-none d-md-table-cell",
        ),
    ]

    def get_filterset(self, data: dict) -> MessageFilter:
        return selectors.message_list(self.request.user, data)

    def annotate(self, queryset: QuerySet[Message]) -> QuerySet[Message]:
        return queryset.annotate(mailings_count=Count("mailings"))

    def row_url(self, obj: Message) -> str:
        return reverse("messages:edit", args=[obj.pk])

    def row_actions(self, obj: Message) -> list[Action]:
        return [
            Action(_("Preview"), reverse("messages:preview", args=[obj.pk]), "eye"),
            Action(_("Edit"), reverse("messages:edit", args=[obj.pk]), "pencil"),
            Action(_("Delete"), reverse("messages:delete", args=[obj.pk]), "trash", "outline-danger"),
        ]


class MessageCreate(OwnerCreateView):
    form_class = MessageForm
    list_url = LIST_URL
    title = gettext_lazy("Write a message")

    def perform_create(self, data: QueryDict) -> Message:
        return services.message_create(actor=self.request.user, data=data)

    def created_message(self, obj: Message) -> str:
        return _("Message “%(subject)s” saved.") % {"subject": obj.subject}

    def success_url(self, obj: Message) -> str:
        return reverse("messages:preview", args=[obj.pk])


class MessageEdit(OwnerEditView):
    form_class = MessageForm
    list_url = LIST_URL

    def lookup(self, pk: int) -> Model:
        return selectors.message_get(self.request.user, pk)

    def perform_update(self, obj: Message, data: QueryDict) -> Message:
        return services.message_update(actor=self.request.user, message=obj, data=data)

    def edit_title(self, obj: Message) -> str:
        return _("Edit message “%(subject)s”") % {"subject": obj.subject}

    def updated_message(self, obj: Message) -> str:
        return _("Message “%(subject)s” saved.") % {"subject": obj.subject}


class MessageDelete(OwnerDeleteView):
    list_url = LIST_URL

    def lookup(self, pk: int) -> Model:
        return selectors.message_get(self.request.user, pk)

    def perform_delete(self, obj: Message) -> None:
        services.message_delete(actor=self.request.user, message=obj)

    def delete_title(self, obj: Message) -> str:
        return _("Delete message “%(subject)s”?") % {"subject": obj.subject}

    def deleted_message(self, label: str) -> str:
        return _("Message “%(subject)s” deleted.") % {"subject": label}

    def consequences(self, obj: Message) -> list[str]:
        return [_("No mailing uses this message.")]

    def blockers(self, obj: Message) -> list[Action]:
        mailings = selectors.mailings_using(self.request.user, obj).order_by("-created_at", "-pk")
        return [
            Action(
                _("Mailing #%(number)d (%(periodicity)s, %(status)s)")
                % {
                    "number": mailing.pk,
                    "periodicity": mailing.get_periodicity_display(),
                    "status": mailing.get_status_display(),
                },
                reverse("mailings:detail", args=[mailing.pk]),
                "send",
            )
            for mailing in mailings
        ]

    def blocked_text(self, obj: Message, count: int) -> str:
        return ngettext(
            "%(count)d mailing sends this message, so it cannot be deleted yet. Open the mailing and choose "
            "another message for it, or delete the mailing; then delete this message.",
            "%(count)d mailings send this message, so it cannot be deleted yet. Open each mailing and choose "
            "another message for it, or delete the mailing; then delete this message.",
            count,
        ) % {"count": count}


class MessagePreview(OwnerObjectMixin, View):
    """The message as one chosen client would get it: the service runs the engine's own
    compose step; the page only shows its parts, escaped, the HTML part in a sandboxed frame."""

    template_name = "web/messages/preview.html"
    choices_shown = 50

    def lookup(self, pk: int) -> Model:
        return selectors.message_get(self.request.user, pk)

    def _client(self, clients: QuerySet[Client], chosen: str) -> Client | None:
        """The chosen client while it is among `clients` (what the search found), else the first of them:
        a new search shows its first match, not the client chosen before it. A choice that cannot be an id
        (not a number, or longer than any key) is ignored; an id that is none of the owner's clients is a
        404, like any id (R-AUTH-4)."""
        if not re.fullmatch(r"[0-9]{1,18}", chosen):
            return clients.first()
        try:
            client = selectors.client_get(self.request.user, int(chosen))
        except Client.DoesNotExist as exc:
            raise Http404 from exc
        return client if clients.filter(pk=client.pk).exists() else clients.first()

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        message = self.get_object(pk)
        found = selectors.client_list(request.user, {"search": request.GET.get("q", "")})
        query = found.value("search") or ""
        clients = ordered(found.qs, "full_name", "email")
        client = self._client(clients, request.GET.get("client", "").strip())
        choices = list(clients[: self.choices_shown])
        matches = len(choices) if len(choices) < self.choices_shown else clients.count()
        if client is not None and client not in choices:
            choices.insert(0, client)
        preview, error = None, ""
        sender = chosen_sender(request.user, request.GET.get("sender", "").strip())
        if client is not None:
            try:
                preview = services.message_preview(
                    actor=request.user, message=message, client=client, sender=sender
                )
            except ValidationError as exc:
                error = error_text(exc)
        context = {
            "message": message,
            "client": client,
            "choices": choices,
            "matches": matches,
            "query": query,
            "search_errors": found.errors.get("search", []),
            "preview": preview,
            "frame_html": PREVIEW_FRAME_HEAD + preview.html if preview and preview.html else "",
            "error": error,
            "test_limit": services.TEST_SENDS_PER_HOUR,
            "sender": sender,
            "senders": list(selectors.usable_senders(request.user).order_by("from_email", "pk")),
        }
        response = render(request, self.template_name, context)
        if context["frame_html"]:
            response.csp_update = PREVIEW_PAGE_CSP
        return response


def chosen_sender(user, value: str) -> SenderIdentity | None:
    """The sender the preview and the test send show the message from (R-DLV-1): one of the owner's usable
    identities by id, or none (the operator's address with the owner's name). Anything else counts as none:
    a revoked or foreign identity is never used."""
    if not value.isdigit() or len(value) > 18:
        return None
    return selectors.usable_senders(user).filter(pk=int(value)).first()


class MessageSendTest(OwnerObjectMixin, View):
    """ "Send a test": the service sends the message to the owner's own address and returns
    the mail server's answer, which the preview page then shows; a refusal or an unreachable server is an
    answer too, not an error page."""

    def lookup(self, pk: int) -> Model:
        return selectors.message_get(self.request.user, pk)

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        message = self.get_object(pk)
        back = reverse("messages:preview", args=[message.pk])
        sender = chosen_sender(request.user, request.POST.get("sender", "").strip())
        query = {}
        if request.POST.get("client", "").isdigit():
            query["client"] = request.POST["client"]
        if sender is not None:
            query["sender"] = sender.pk
        if query:
            back += "?" + urlencode(query)
        try:
            result = services.message_send_test(
                actor=request.user, message=message, connect=open_connection, sender=sender
            )
        except RateLimited as exc:
            minutes = exc.retry_after_minutes
            messages.error(
                request,
                ngettext(
                    "Too many test messages; try again in %(minutes)d minute.",
                    "Too many test messages; try again in %(minutes)d minutes.",
                    minutes,
                )
                % {"minutes": minutes},
            )
            return redirect(back)
        except ValidationError as exc:
            messages.error(request, error_text(exc))
            return redirect(back)
        raw = roles.sees_relay_answers(request.user)
        # The relay's own text names its hosts: an owner reads what it means (the code stays).
        answer = result.answer if raw else answers.summary(result.code, result.answer)
        answer = f"{result.code} {answer}" if result.code else answer
        if result.accepted and not raw:
            messages.success(
                request,
                _("The mail server accepted the test message for %(email)s.") % {"email": request.user.email},
            )
        elif result.accepted:
            messages.success(
                request,
                _("The mail server accepted the test message for %(email)s: %(answer)s")
                % {"email": request.user.email, "answer": answer},
            )
        else:
            messages.error(
                request,
                _("The test message to %(email)s was not accepted: %(answer)s")
                % {"email": request.user.email, "answer": answer},
            )
        return redirect(back)
