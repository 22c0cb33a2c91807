"""Clients (R-DATA-1, R-AUTH-4): list, add, edit, delete, import and export as CSV; one person's data
exported as JSON and erased at their request (R-ENG-4)."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    JsonResponse,
    QueryDict,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views import View

from backend.mailings import csv_io, gdpr, selectors, services
from backend.mailings.filters import ClientFilter
from backend.mailings.forms import ClientForm
from backend.mailings.models import Bounce, Client, Tag
from backend.mailings.models import ClientImport as ClientImportJob

from ..moments import moment_text
from .forms import ClientBulkForm, ClientImportForm
from .generic import (
    Action,
    Column,
    OwnerCreateView,
    OwnerDeleteView,
    OwnerEditView,
    OwnerListView,
    OwnerObjectMixin,
    OwnerPageMixin,
)

LIST_URL = reverse_lazy("clients:list")
# The import report lists every row, those with something to say (skipped, or a name filled in) apart from
# the rest; each list stops at this many with a note of how many more, as a page of 50,000 lines would not
# help anyone read it.
REPORT_ROWS_SHOWN = 500
# Background imports listed on the import page.
RECENT_IMPORTS = 5


# The ticking column's header: a label for screen readers only, in the viewer's language.
_pick_label = lazy(lambda: format_html('<span class="visually-hidden">{}</span>', _("Pick")), SafeString)


def _pick_box(client: Client) -> str:
    """A box of the bulk form (outside the table: `form=` ties it), named like the form's `clients`."""
    return format_html(
        '<input class="form-check-input" type="checkbox" form="bulk-tags" name="clients" value="{}" '
        'aria-label="{}" data-bulk-pick>',
        client.pk,
        client.email,
    )


def _tag_badges(client: Client) -> str:
    return format_html_join(
        " ", '<span class="badge text-bg-light border">{}</span>', ((tag.name,) for tag in client.tags.all())
    )


def _subscription(client: Client) -> str:
    if client.unsubscribed_at is None:
        badge = format_html('<span class="badge text-bg-success">{}</span>', _("subscribed"))
    else:
        badge = format_html('<span class="badge text-bg-secondary">{}</span>', _("unsubscribed"))
    if client.bounced_at is not None:
        badge = format_html(
            '{} <span class="badge text-bg-danger" data-testid="bounced-badge" title="{}">{}</span>',
            badge,
            _("Mail to this address bounced; nothing is sent to it until you reactivate the client."),
            _("bounced"),
        )
    return badge


class ClientList(OwnerListView):
    template_name = "web/clients/list.html"
    title = gettext_lazy("Clients")
    add_url = reverse_lazy("clients:new")
    add_label = gettext_lazy("Add a client")
    default_sort = "full_name"
    no_match_text = gettext_lazy("No client matches your search.")
    columns = [
        Column("pick", _pick_label(), _pick_box),
        Column("full_name", gettext_lazy("Name"), lambda c: c.full_name, ("full_name",), link=True),
        Column("email", gettext_lazy("Email"), lambda c: c.email, ("email",)),
        Column(
            "status",
            gettext_lazy("Status"),
            _subscription,
            ("unsubscribed_at",),
            classes="d-none d-sm-table-cell",
        ),
        Column("tags", gettext_lazy("Tags"), lambda c: _tag_badges(c), classes="d-none d-md-table-cell"),
        Column(
            "created",
            gettext_lazy("Added"),
            lambda c: moment_text(c.created_at),
            ("created_at",),
            classes="d-none d-lg-table-cell",
        ),
    ]

    def get_filterset(self, data: dict) -> ClientFilter:
        return selectors.client_list(self.request.user, data)

    def annotate(self, queryset: QuerySet[Client]) -> QuerySet[Client]:
        return selectors.with_tags(queryset)

    def get_context(self, context: dict) -> dict:
        context = super().get_context(context)
        tags = list(selectors.tags_for(self.request.user).order_by("name", "pk"))
        chosen = self.filters.value("tag")
        bounced = self.filters.value("bounced")
        context["tags"] = tags
        context["tag_filter"] = int(chosen) if chosen else None
        context["bounced_filter"] = "" if bounced is None else ("yes" if bounced else "no")
        context["bounced_choices"] = self.filters.filters["bounced"].extra["choices"]
        context["filtered"] = bool(context["query"] or chosen or bounced is not None)
        context["bulk_form"] = ClientBulkForm(owner=self.request.user)
        context["back"] = self.request.GET.urlencode()
        return context

    def row_url(self, obj: Client) -> str:
        return reverse("clients:edit", args=[obj.pk])

    def row_actions(self, obj: Client) -> list[Action]:
        return [
            Action(_("Edit"), reverse("clients:edit", args=[obj.pk]), "pencil"),
            Action(_("Delete"), reverse("clients:delete", args=[obj.pk]), "trash", "outline-danger"),
        ]


class ClientBulk(OwnerPageMixin, View):
    """POST only: one action (`ClientBulkForm`) on the ticked clients or on every client matching the list's
    search and filters (R-AUD-2, R-OWN-3), in a fixed number of statements whatever the count. Another
    owner's client id or tag is not a valid choice: the whole request is refused and nothing changes. A
    delete is asked about first, on a page that says how many."""

    def post(self, request: HttpRequest) -> HttpResponse:
        back = _back_url(request.POST.get("back", ""))
        form = ClientBulkForm(request.POST, owner=request.user)
        if not form.is_valid():
            messages.error(request, " ".join(error for errors in form.errors.values() for error in errors))
            return redirect(back)
        data = form.cleaned_data
        if data["scope"] == ClientBulkForm.MATCHING:
            filters = selectors.client_list(
                request.user,
                {"search": data["q"], "tag": data["tag_filter"], "bounced": data["bounced_filter"] or None},
            )
            if not filters.is_valid():
                messages.error(request, _("The search is not valid; nothing was changed."))
                return redirect(back)
            clients = filters.qs
        else:
            clients = selectors.clients_for(request.user).filter(pk__in=[c.pk for c in data["clients"]])
        action = data["action"]
        if action == ClientBulkForm.EXPORT:
            return _csv_download(clients, request.user)
        if action == ClientBulkForm.DELETE and not data["confirmed"]:
            return render(
                request,
                "web/clients/bulk_delete.html",
                {"title": _("Delete clients"), "count": clients.count(), "form": form, "back": back},
            )
        messages.success(request, self.perform(action, data.get("tag"), clients))
        return redirect(back)

    def perform(self, action: str, tag: Tag | None, clients: QuerySet[Client]) -> str:
        user = self.request.user
        if action == ClientBulkForm.ADD:
            count = services.clients_tag(actor=user, tag=tag, clients=clients)
            text = ngettext(
                "Tag “%(tag)s” added to %(count)d client.", "Tag “%(tag)s” added to %(count)d clients.", count
            )
            return text % {"tag": tag.name, "count": count}
        if action == ClientBulkForm.REMOVE:
            count = services.clients_untag(actor=user, tag=tag, clients=clients)
            text = ngettext(
                "Tag “%(tag)s” removed from %(count)d client.",
                "Tag “%(tag)s” removed from %(count)d clients.",
                count,
            )
            return text % {"tag": tag.name, "count": count}
        if action == ClientBulkForm.UNSUBSCRIBE:
            count = services.clients_unsubscribe(actor=user, clients=clients)
            return ngettext(
                "%(count)d client unsubscribed; nothing is sent to them until you re-subscribe them.",
                "%(count)d clients unsubscribed; nothing is sent to them until you re-subscribe them.",
                count,
            ) % {"count": count}
        if action == ClientBulkForm.RESUBSCRIBE:
            result = services.clients_resubscribe(actor=user, clients=clients)
            text = ngettext(
                "%(count)d client subscribed again.",
                "%(count)d clients subscribed again.",
                result.resubscribed,
            ) % {"count": result.resubscribed}
            if result.kept:
                text += " " + ngettext(
                    "%(count)d stays unsubscribed: they unsubscribed themselves, which only they can undo.",
                    "%(count)d stay unsubscribed: they unsubscribed themselves, which only they can undo.",
                    result.kept,
                ) % {"count": result.kept}
            return text
        count = services.clients_delete(actor=user, clients=clients)
        return ngettext("%(count)d client deleted.", "%(count)d clients deleted.", count) % {"count": count}


def _csv_download(clients: QuerySet[Client], user) -> StreamingHttpResponse:
    """Clients as CSV, streamed row by row, in the import's columns, times in the user's zone."""
    lines = csv_io.clients_csv(clients.order_by("email", "pk"), user.tz)
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    filename = f"clients-{timezone.localdate():%Y-%m-%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _back_url(query: str) -> str:
    """The client list with the query string it was posted from (only the list: never another address)."""
    encoded = QueryDict(query).urlencode()
    return f"{LIST_URL}?{encoded}" if encoded else str(LIST_URL)


class ClientCreate(OwnerCreateView):
    form_class = ClientForm
    list_url = LIST_URL
    title = gettext_lazy("Add a client")

    def perform_create(self, data: QueryDict) -> Client:
        return services.client_create(actor=self.request.user, data=data)

    def created_message(self, obj: Client) -> str:
        return _("Client %(email)s added.") % {"email": obj.email}

    def success_url(self, obj: Client) -> str:
        # Newest first, so the client just added is the first row, not somewhere on page 7 by name.
        return f"{LIST_URL}?sort=-created"


class ClientEdit(OwnerEditView):
    """The client's form, and below it what was read back about the address (R-DLV-3): its bounces and
    complaints with their reasons and raw mails, and "Reactivate" when it is marked bounced."""

    template_name = "web/clients/edit.html"
    form_class = ClientForm
    list_url = LIST_URL
    bounces_shown = 20

    def extra_context(self, form) -> dict:
        client = form.instance
        return {
            "client": client,
            "bounces": list(selectors.client_bounces(self.request.user, client)[: self.bounces_shown]),
        }

    def lookup(self, pk: int) -> Model:
        return selectors.client_get(self.request.user, pk)

    def perform_update(self, obj: Client, data: QueryDict) -> Client:
        return services.client_update(actor=self.request.user, client=obj, data=data)

    def edit_title(self, obj: Client) -> str:
        return _("Edit client %(email)s") % {"email": obj.email}

    def updated_message(self, obj: Client) -> str:
        return _("Client %(email)s saved.") % {"email": obj.email}


class ClientReactivate(OwnerObjectMixin, View):
    """POST only: send to a bounced client again (`services.client_reactivate`)."""

    def lookup(self, pk: int) -> Model:
        return selectors.client_get(self.request.user, pk)

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        client = self.get_object(pk)
        services.client_reactivate(actor=request.user, client=client)
        messages.success(
            request,
            _("Client %(email)s reactivated: mailings are sent to it again.") % {"email": client.email},
        )
        return redirect("clients:edit", pk=client.pk)


class BounceRaw(OwnerPageMixin, View):
    """The raw mail of one of the owner's bounces, as plain text: never rendered as HTML (it is anyone's
    mail), not sniffed, sandboxed should a browser try."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        try:
            bounce = selectors.bounce_get(request.user, pk)
        except Bounce.DoesNotExist as exc:
            raise Http404(_("No such bounce.")) from exc
        if bounce.raw_purged_at is not None:
            text = _("The raw mail was deleted on %(date)s, as every bounce's is after a while.") % {
                "date": moment_text(bounce.raw_purged_at)
            }
        else:
            text = bytes(bounce.raw).decode("utf-8", "replace")
            if bounce.raw_truncated:
                text += "\n\n" + _("[cut: the mail was %(size)d bytes long]") % {"size": bounce.size}
        response = HttpResponse(text, content_type="text/plain; charset=utf-8")
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = "sandbox; default-src 'none'"
        response["Content-Disposition"] = "inline"
        return response


class ClientDelete(OwnerDeleteView):
    list_url = LIST_URL

    def lookup(self, pk: int) -> Model:
        return selectors.client_get(self.request.user, pk)

    def perform_delete(self, obj: Client) -> None:
        services.client_delete(actor=self.request.user, client=obj)

    def delete_title(self, obj: Client) -> str:
        return _("Delete client %(email)s?") % {"email": obj.email}

    def deleted_message(self, label: str) -> str:
        return _("Client %(client)s deleted.") % {"client": label}

    def consequences(self, obj: Client) -> list[str]:
        count = obj.mailings.count()
        result = []
        if count:
            result.append(
                ngettext(
                    "The client is taken out of %(count)d mailing.",
                    "The client is taken out of %(count)d mailings.",
                    count,
                )
                % {"count": count}
            )
        result.append(_("Reports keep the address of every message already sent to this client."))
        return result


class ClientImport(OwnerPageMixin, View):
    """An upload, then the report of every row. A small file is imported at once and its report shown; a
    large one (R-AUD-3) is stored and imported by the scheduler, and the page of that import shows its
    progress. A file the domain cannot read is refused as a whole with its reason, and nothing is
    imported."""

    template_name = "web/clients/import.html"

    def context(self, form: ClientImportForm) -> dict:
        return {"form": form, "imports": selectors.client_imports_for(self.request.user)[:RECENT_IMPORTS]}

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, self.template_name, self.context(ClientImportForm()))

    def post(self, request: HttpRequest) -> HttpResponse:
        form = ClientImportForm(request.POST, request.FILES)
        if form.is_valid():
            # Django wrote a large upload to a temporary file as it arrived; the service moves it.
            try:
                result = services.clients_import_upload(actor=request.user, upload=form.cleaned_data["file"])
            except ValidationError as exc:
                form.add_error("file", exc)
            else:
                if isinstance(result, services.ImportReport):
                    return self.report(request, result)
                messages.success(
                    request,
                    _("The file is being imported in the background; this page shows how far it got."),
                )
                return redirect("clients:import-status", pk=result.pk)
        return render(request, self.template_name, self.context(form))

    def report(self, request: HttpRequest, report: services.ImportReport) -> HttpResponse:
        messages.success(
            request,
            _("Import finished: %(added)d added, %(updated)d updated, %(skipped)d skipped.")
            % {"added": report.added, "updated": report.updated, "skipped": report.skipped},
        )
        noted = [row for row in report.rows if row.reason]
        plain = [row for row in report.rows if not row.reason]
        context = {
            "report": report,
            "noted": noted[:REPORT_ROWS_SHOWN],
            "noted_more": max(0, len(noted) - REPORT_ROWS_SHOWN),
            "plain": plain[:REPORT_ROWS_SHOWN],
            "plain_more": max(0, len(plain) - REPORT_ROWS_SHOWN),
        }
        return render(request, "web/clients/import_report.html", context)


def _owned_import(request: HttpRequest, pk: int) -> ClientImportJob:
    try:
        return selectors.client_import_get(request.user, pk)
    except ClientImportJob.DoesNotExist as exc:
        raise Http404(_("No such import.")) from exc


class ClientImportStatus(OwnerPageMixin, View):
    """A background import: its progress bar (moved by static/js/import-progress.js, which polls
    ClientImportProgress; without JavaScript the page offers a reload), its counts, the first rows to look
    at and the whole per-row report as CSV."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        job = _owned_import(request, pk)
        problems = [
            {"line": line, "email": email, "result": result, "reason": reason, "code": code}
            for line, email, result, reason, code in job.problems
        ]
        context = {
            "job": job,
            "format": csv_io.CsvFormat(job.encoding, job.delimiter) if job.encoding else None,
            "problems": problems,
            "has_report": selectors.client_import_report(job) is not None,
        }
        return render(request, "web/clients/import_status.html", context)


class ClientImportProgress(OwnerPageMixin, View):
    """The few numbers the progress bar needs, as JSON."""

    def get(self, request: HttpRequest, pk: int) -> JsonResponse:
        job = _owned_import(request, pk)
        return JsonResponse(
            {
                "status": job.status,
                "finished": job.is_finished,
                "rowsDone": job.rows_done,
                "rowsTotal": job.rows_total,
                "percent": job.percent,
                "added": job.added,
                "updated": job.updated,
                "skipped": job.skipped,
                "errors": job.errors,
            },
            headers={"Cache-Control": "no-store"},
        )


class ClientImportReport(OwnerPageMixin, View):
    """The per-row report of a background import as CSV: line, email, result, reason, code."""

    def get(self, request: HttpRequest, pk: int) -> FileResponse:
        job = _owned_import(request, pk)
        path = selectors.client_import_report(job)
        if path is None:
            raise Http404(_("This import has no report yet."))
        return FileResponse(
            path.open("rb"),
            as_attachment=True,
            filename=f"import-{job.pk}-report.csv",
            content_type="text/csv; charset=utf-8",
        )


class ClientExport(OwnerPageMixin, View):
    """The owner's list as CSV, streamed row by row: the clients the list shows for the same search and
    filters (`q`, `tag`, `bounced`), all of them without (R-OWN-3). A search the list refuses exports nothing
    and says why."""

    def get(self, request: HttpRequest) -> HttpResponse:
        data = request.GET.copy()
        data["search"] = data.pop("q", [""])[0]
        filters = selectors.client_list(request.user, data)
        if not filters.is_valid():
            messages.error(request, _("The search is not valid; nothing was exported."))
            return redirect(LIST_URL)
        return _csv_download(filters.qs, request.user)


class ClientDataExport(OwnerObjectMixin, View):
    """Everything Mailer holds about one client, as a JSON download (R-ENG-4), streamed: deliveries are
    read a chunk at a time (`gdpr.client_export`)."""

    def lookup(self, pk: int) -> Model:
        return selectors.client_get(self.request.user, pk)

    def get(self, request: HttpRequest, pk: int) -> StreamingHttpResponse:
        client = self.get_object(pk)
        response = StreamingHttpResponse(
            gdpr.client_export(client), content_type="application/json; charset=utf-8"
        )
        response["Content-Disposition"] = (
            f'attachment; filename="client-{client.pk}-{timezone.now():%Y-%m-%d}.json"'
        )
        response["Cache-Control"] = "no-store"
        response["X-Content-Type-Options"] = "nosniff"
        return response


class ClientErase(OwnerObjectMixin, View):
    """GET shows what erasing the client deletes, with counts; only a POST erases
    (`services.client_erase`, R-ENG-4)."""

    template_name = "web/clients/erase.html"

    def lookup(self, pk: int) -> Model:
        return selectors.client_get(self.request.user, pk)

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        client = self.get_object(pk)
        context = {
            "client": client,
            "counts": gdpr.person_counts(client),
            "title": _("Erase client %(email)s?") % {"email": client.email},
            "cancel_url": reverse("clients:edit", args=[client.pk]),
        }
        return render(request, self.template_name, context)

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        client = self.get_object(pk)
        try:
            services.client_erase(actor=request.user, client=client)
        except Client.DoesNotExist as exc:  # erased by another request meanwhile
            raise Http404 from exc
        messages.success(
            request,
            _("The client and everything about them were erased; only a hash of the address is kept."),
        )
        return redirect(LIST_URL)
