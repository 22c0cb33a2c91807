"""Reports (R-UI-2, R-UI-9, R-DATA-4, R-SEND-4): a mailing's sends with their counts, a chart, the attempt log
with the server's answers, "retry failed" and the log as CSV; and every completed send of the owner."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.core.paginator import Paginator
from django.db.models import Prefetch, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext, pgettext_lazy
from django.views import View
from graphql_relay import to_global_id

from backend.accounts import roles
from backend.accounts.models import User
from backend.mailings import csv_io, selectors, services
from backend.mailings.models import Delivery, DeliveryAttempt, Mailing, Occurrence

from ..moments import moment_text
from .generic import OwnerPageMixin, error_text
from .mailings import OwnMailingMixin, status_badge

OCCURRENCES_PER_PAGE = 20
LOG_PER_PAGE = 25
REPORTS_PER_PAGE = 25
STATUS_STYLES = {
    Delivery.Status.SENT: "text-bg-success",
    Delivery.Status.FAILED: "text-bg-danger",
    Delivery.Status.RETRYING: "text-bg-warning",
    Delivery.Status.PENDING: "text-bg-secondary",
    Delivery.Status.SKIPPED: "text-bg-light border",
}
OUTCOME_STYLES = {
    DeliveryAttempt.Outcome.SENT: "text-success",
    DeliveryAttempt.Outcome.TEMPORARY: "text-warning-emphasis",
    DeliveryAttempt.Outcome.PERMANENT: "text-danger",
}


def own_occurrences(user: User) -> QuerySet[Occurrence]:
    """Occurrences of the user's own mailings, plain rows: page them, then count with `counted_page`."""
    return selectors.occurrences_for(user).filter(mailing__in=selectors.own_mailings(user).values("pk"))


def counted_page(user: User, page) -> None:
    """Put a page's occurrences back with their deliveries counted by status, from one stats query over that
    page's rows only. Counting before paging grouped the whole delivery log for every page and its count."""
    ids = [occurrence.pk for occurrence in page.object_list]
    counted = selectors.occurrences_with_stats(user, attempt_times=False).filter(pk__in=ids)
    by_pk = {occurrence.pk: occurrence for occurrence in counted.select_related("mailing__message")}
    page.object_list = [by_pk[pk] for pk in ids if pk in by_pk]


def page_url(params, **changes) -> str:
    query = params.copy()
    for name, value in changes.items():
        query.pop(name, None)
        if value is not None:
            query[name] = value
    encoded = query.urlencode()
    return f"?{encoded}" if encoded else "?"


def pagination(params, page, name: str = "page") -> dict:
    """Links for one paginated table of the page, keeping the other parameters (filters, the other
    table's page)."""
    return {
        "page": page,
        "previous_url": page_url(params, **{name: page.previous_page_number()})
        if page.has_previous()
        else None,
        "next_url": page_url(params, **{name: page.next_page_number()}) if page.has_next() else None,
    }


class LogFilterForm(forms.Form):
    """Filters of the attempt log; values that are not choices are ignored (they came from a URL)."""

    status = forms.ChoiceField(
        label=gettext_lazy("Outcome"),
        required=False,
        choices=[("", gettext_lazy("Any outcome")), *Delivery.Status.choices],
    )
    occurrence = forms.TypedChoiceField(
        label=pgettext_lazy("one occurrence of a mailing", "Send"),
        required=False,
        coerce=int,
        empty_value=None,
    )
    q = forms.CharField(label=gettext_lazy("Email"), required=False, max_length=254)

    def __init__(self, *args, occurrences: list[tuple[int, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["occurrence"].choices = [("", _("Every send")), *occurrences]

    def filtered(self, queryset: QuerySet[Delivery]) -> QuerySet[Delivery]:
        self.is_valid()
        chosen = self.cleaned_data
        if chosen.get("status"):
            queryset = queryset.filter(status=chosen["status"])
        if chosen.get("occurrence"):
            queryset = queryset.filter(occurrence_id=chosen["occurrence"])
        if chosen.get("q"):
            queryset = queryset.filter(email__icontains=chosen["q"].strip())
        return queryset

    @property
    def active_filters(self) -> bool:
        return any(self.cleaned_data.get(name) for name in self.fields)


def _log_form(request: HttpRequest, mailing: Mailing) -> LogFilterForm:
    moments = mailing.occurrences.order_by("-scheduled_for", "-pk").values_list("pk", "scheduled_for")
    choices = [(pk, moment_text(moment)) for pk, moment in moments]
    return LogFilterForm(request.GET, occurrences=choices)


def _deliveries(user: User, mailing: Mailing) -> QuerySet[Delivery]:
    return selectors.deliveries_for(user).filter(mailing=mailing)


class MailingReport(OwnMailingMixin, View):
    """The report of one mailing: its sends, a chart from /graphql/, the attempt log."""

    template_name = "web/reports/mailing.html"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        mailing = self.get_object(pk)
        occurrences = Paginator(
            own_occurrences(request.user).filter(mailing=mailing).order_by("-scheduled_for", "-pk"),
            OCCURRENCES_PER_PAGE,
        ).get_page(request.GET.get("sends"))
        counted_page(request.user, occurrences)
        for occurrence in occurrences:
            occurrence.waiting_count = occurrence.pending_count + occurrence.retrying_count
        log_form = _log_form(request, mailing)
        attempts = DeliveryAttempt.objects.order_by("attempted_at", "id")
        log = Paginator(
            log_form.filtered(_deliveries(request.user, mailing))
            .select_related("occurrence")
            .prefetch_related(Prefetch("attempt_log", queryset=attempts, to_attr="attempt_list"))
            .order_by("-occurrence__scheduled_for", "email", "pk"),
            LOG_PER_PAGE,
        ).get_page(request.GET.get("page"))
        for delivery in log:
            delivery.badge = STATUS_STYLES.get(delivery.status, "")
            for attempt in delivery.attempt_list:
                attempt.style = OUTCOME_STYLES.get(attempt.outcome, "")
        context = {
            "mailing": mailing,
            "title": _("Report: %(subject)s") % {"subject": mailing.message.subject},
            "status_badge": status_badge(mailing),
            "occurrences": occurrences,
            "occurrence_pages": pagination(request.GET, occurrences, "sends"),
            "log": log,
            "log_pages": pagination(request.GET, log),
            "log_form": log_form,
            "relay_answers": roles.sees_relay_answers(request.user),
            "export_query": request.GET.urlencode(),
            "global_id": to_global_id("Mailing", mailing.pk),
            "time_zone": request.user.time_zone,
            "chart_labels": {
                "sent": _("Sent"),
                "failed": _("Failed"),
                "retrying": _("Retrying"),
                "pending": _("Pending"),
                "skipped": _("Skipped"),
                "axisX": pgettext("one occurrence of a mailing", "Send"),
                "axisY": _("Recipients"),
            },
        }
        return render(request, self.template_name, context)


class MailingReportExport(OwnMailingMixin, View):
    """The attempt log as CSV, with the page's filters, streamed row by row (`csv_io.deliveries_csv`)."""

    def get(self, request: HttpRequest, pk: int) -> StreamingHttpResponse:
        mailing = self.get_object(pk)
        rows = _log_form(request, mailing).filtered(_deliveries(request.user, mailing))
        lines = csv_io.deliveries_csv(
            rows.order_by("-occurrence__scheduled_for", "email", "pk"),
            tz=request.user.tz,
            relay_answers=roles.sees_relay_answers(request.user),
        )
        response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
        filename = f"mailing-{mailing.pk}-log-{timezone.localdate():%Y-%m-%d}.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


class OccurrenceRetry(OwnMailingMixin, View):
    """POST only: queue the failed deliveries of one send again (`occurrence_retry_failed`). The form posts
    to this URL with the report's query string, and the answer goes back to the report with the same
    filters and pages."""

    def post(self, request: HttpRequest, pk: int, occurrence_pk: int) -> HttpResponse:
        mailing = self.get_object(pk)
        try:
            occurrence = selectors.occurrences_for(request.user).get(mailing=mailing, pk=occurrence_pk)
        except ObjectDoesNotExist as exc:
            raise Http404 from exc
        try:
            count = services.occurrence_retry_failed(actor=request.user, occurrence=occurrence)
        except ValidationError as exc:
            messages.error(request, error_text(exc))
        else:
            messages.success(
                request,
                ngettext(
                    "%(count)d failed delivery is queued again; the scheduler sends it shortly.",
                    "%(count)d failed deliveries are queued again; the scheduler sends them shortly.",
                    count,
                )
                % {"count": count},
            )
        back = reverse("mailings:report", args=[mailing.pk])
        query = request.GET.urlencode()
        return redirect(f"{back}?{query}" if query else back)


class ReportList(OwnerPageMixin, View):
    """Every completed send across the owner's mailings, newest first (R-UI-2)."""

    template_name = "web/reports/list.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        finished = (
            own_occurrences(request.user).filter(finished_at__isnull=False).order_by("-finished_at", "-pk")
        )
        page = Paginator(finished, REPORTS_PER_PAGE).get_page(request.GET.get("page"))
        counted_page(request.user, page)
        for occurrence in page:
            delivered = occurrence.sent_count + occurrence.failed_count
            occurrence.success_rate = round(100 * occurrence.sent_count / delivered) if delivered else None
        context = {"sends": page, "pages": pagination(request.GET, page)}
        return render(request, self.template_name, context)
