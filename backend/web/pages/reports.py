"""Reports (R-UI-2, R-UI-9, R-DATA-4, R-SEND-4): a mailing's sends with their counts, a chart, the attempt log
with the server's answers, "retry failed" and the log as CSV; and every completed send of the owner."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db.models import Prefetch, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext
from django.views import View
from graphql_relay import to_global_id

from backend.accounts import roles
from backend.accounts.models import User
from backend.mailings import csv_io, selectors, services
from backend.mailings.filters import DeliveryFilter
from backend.mailings.models import Delivery, DeliveryAttempt, Mailing, Occurrence
from backend.mailings.tracking.report import engagement_of

from ..moments import moment_text
from .generic import OwnerPageMixin, error_text, paginated
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


def _log(request: HttpRequest, mailing: Mailing) -> DeliveryFilter:
    """The report's delivery log with its filters (the URL's `q` is the email's search): the sends one may
    choose are the mailing's own."""
    moments = mailing.occurrences.order_by("-scheduled_for", "-pk").values_list("pk", "scheduled_for")
    data = request.GET.dict()
    data["email"] = data.pop("q", "")
    data["mailing"] = mailing.pk
    sends = [(pk, moment_text(moment)) for pk, moment in moments]
    return selectors.delivery_list(request.user, data, occurrences=sends)


class MailingReport(OwnMailingMixin, View):
    """The report of one mailing: its sends, a chart from /graphql/, the attempt log."""

    template_name = "web/reports/mailing.html"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        mailing = self.get_object(pk)
        sends = selectors.occurrence_list(request.user, {"mailing": mailing.pk}).qs.order_by(
            "-scheduled_for", "-pk"
        )
        occurrence_pages = paginated(request.GET, sends, OCCURRENCES_PER_PAGE, "sends")
        occurrences = occurrence_pages["page"]
        counted_page(request.user, occurrences)
        # Opens and clicks (R-ENG-2): four queries whatever the number of sends, events and links.
        sent = dict(
            selectors.occurrences_with_stats(request.user, mailing=mailing, attempt_times=False)
            .order_by()
            .values_list("pk", "sent_count")
        )
        engagement, engagement_per_send = engagement_of(mailing, sent)
        for occurrence in occurrences:
            occurrence.engagement = engagement_per_send.get(occurrence.pk)
        log_filters = _log(request, mailing)
        attempts = DeliveryAttempt.objects.order_by("attempted_at", "id")
        log_pages = paginated(
            request.GET,
            log_filters.qs.select_related("occurrence")
            .prefetch_related(Prefetch("attempt_log", queryset=attempts, to_attr="attempt_list"))
            # Newest send first (a later send has a larger id), then by address: the order of the
            # (mailing, occurrence, email, id) index, so a page reads 25 entries, not the mailing's whole log.
            .order_by("-occurrence_id", "email", "pk"),
            LOG_PER_PAGE,
        )
        log = log_pages["page"]
        for delivery in log:
            delivery.badge = STATUS_STYLES.get(delivery.status, "")
            for attempt in delivery.attempt_list:
                attempt.style = OUTCOME_STYLES.get(attempt.outcome, "")
        context = {
            "mailing": mailing,
            "title": _("Report: %(name)s") % {"name": mailing.name},
            "status_badge": status_badge(mailing),
            "occurrences": occurrences,
            "occurrence_pages": occurrence_pages,
            "log": log,
            "log_pages": log_pages,
            "log_form": [log_filters.form[name] for name in ("status", "occurrence", "email")],
            "log_filtered": log_filters.chosen,
            "relay_answers": roles.sees_relay_answers(request.user),
            "log_days": settings.DELIVERY_LOG_DAYS,
            "export_query": request.GET.urlencode(),
            "global_id": to_global_id("Mailing", mailing.pk),
            "time_zone": request.user.time_zone,
            "engagement": engagement,
            "engagement_labels": {
                "opens": _("Opens"),
                "clicks": _("Clicks"),
                "axisX": _("Hours after the send"),
                "axisY": _("Opens and clicks by people"),
            },
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
        rows = _log(request, mailing).qs
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
        pages = paginated(request.GET, finished, REPORTS_PER_PAGE)
        page = pages["page"]
        counted_page(request.user, page)
        for occurrence in page:
            delivered = occurrence.sent_count + occurrence.failed_count
            occurrence.success_rate = round(100 * occurrence.sent_count / delivered) if delivered else None
        context = {"sends": page, "pages": pages}
        return render(request, self.template_name, context)
