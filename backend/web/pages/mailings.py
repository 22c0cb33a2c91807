"""Mailings (R-UI-1, R-UI-3, R-UI-4, R-DATA-3, R-AUTH-4): list with filters, create, edit, delete, the
detail page with its schedule and live progress, and "send now"."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Model, Q, QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views import View
from graphql_relay import to_global_id

from backend.mailings import limits, selectors, services
from backend.mailings.filters import MailingFilter
from backend.mailings.forms import MailingForm
from backend.mailings.models import Client, Mailing

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

LIST_URL = reverse_lazy("mailings:list")
UPCOMING_SHOWN = 5
STATUS_STYLES = {
    Mailing.Status.CREATED: "text-bg-secondary",
    Mailing.Status.STARTED: "text-bg-primary",
    Mailing.Status.COMPLETED: "text-bg-success",
}


def mailing_choices() -> dict[str, dict]:
    """The statuses' labels and badges and the periodicities' labels, keyed by the API's enum names, for the
    managers' dashboard script: it shows a mailing's status in the words and colours these pages do."""
    return {
        "statuses": {
            value.upper(): {"label": str(label), "badge": STATUS_STYLES[value]}
            for value, label in Mailing.Status.choices
        },
        "periodicities": {value.upper(): str(label) for value, label in Mailing.Periodicity.choices},
    }


def status_badge(mailing: Mailing) -> str:
    """The status as a badge, and a second one when a manager disabled the mailing."""
    badge = format_html(
        '<span class="badge {}" data-status="{}">{}</span>',
        STATUS_STYLES.get(mailing.status, "text-bg-secondary"),
        mailing.status,
        mailing.get_status_display(),
    )
    if not mailing.is_active:
        badge += format_html(' <span class="badge text-bg-danger">{}</span>', _("disabled"))
    if mailing.paused_at is not None:
        badge += format_html(' <span class="badge text-bg-warning" data-status-paused>{}</span>', _("paused"))
    return badge


def live_status_badges(mailing: Mailing) -> str:
    """For the mailing page: a badge for every status, all but the mailing's own hidden, and the disabled
    one, hidden while the mailing is active. The page's script shows the ones its poll reports; the server
    wrote every word."""
    badges = format_html_join(
        " ",
        '<span class="badge {}" data-status="{}"{}>{}</span>',
        (
            (STATUS_STYLES[value], value, " hidden" if value != mailing.status else "", label)
            for value, label in Mailing.Status.choices
        ),
    )
    return (
        badges
        + format_html(
            ' <span class="badge text-bg-danger" data-status-disabled{}>{}</span>',
            "" if not mailing.is_active else " hidden",
            _("disabled"),
        )
        + format_html(
            ' <span class="badge text-bg-warning" data-status-paused{}>{}</span>',
            "" if mailing.paused_at is not None else " hidden",
            _("paused"),
        )
    )


def audience_text(mailing: Mailing) -> str:
    """Who the mailing goes to, in words: everyone, the tags (any or all of them), or the chosen clients.
    Reads the mailing's tags through `mailing.tags.all()` (a list prefetches them)."""
    if mailing.audience == Mailing.Audience.TAGS:
        names = [tag.name for tag in mailing.tags.all()]
        separator = _(" or ") if mailing.tag_match == Mailing.TagMatch.ANY else _(" and ")
        return format_html(
            "{}: {}",
            _("Tags"),
            format_html_join(
                separator, '<span class="badge text-bg-light border">{}</span>', ((name,) for name in names)
            ),
        )
    return str(mailing.get_audience_display()).capitalize()


def _status_cell(mailing: Mailing) -> str:
    """The badges, and at phone width (where the periodicity column is hidden) the periodicity below."""
    return status_badge(mailing) + format_html(
        '<div class="d-sm-none small text-body-secondary">{}</div>', mailing.get_periodicity_display()
    )


class MailingList(OwnerListView):
    template_name = "web/mailings/list.html"
    title = gettext_lazy("Mailings")
    add_url = reverse_lazy("mailings:new")
    add_label = gettext_lazy("New mailing")
    default_sort = "-created"
    no_match_text = gettext_lazy("No mailing matches your search.")
    columns = [
        Column("name", gettext_lazy("Name"), lambda m: m.name, ("name",), link=True),
        Column(
            "subject",
            gettext_lazy("Message"),
            lambda m: m.message.subject,
            ("message__subject",),
            classes="d-none d-xl-table-cell",
        ),
        Column("status", gettext_lazy("Status"), lambda m: _status_cell(m), ("status",)),
        Column(
            "periodicity",
            gettext_lazy("Periodicity"),
            lambda m: m.get_periodicity_display(),
            ("periodicity",),
            classes="d-none d-sm-table-cell",
        ),
        Column(
            "next",
            gettext_lazy("Next send"),
            lambda m: moment_text(m.next_run_at) or None,
            ("next_run_at",),
            classes="d-none d-md-table-cell",
        ),
        Column(
            "audience",
            gettext_lazy("Audience"),
            lambda m: audience_text(m),
            ("audience",),
            classes="d-none d-md-table-cell",
        ),
        Column(
            "size",
            gettext_lazy("Recipients now"),
            lambda m: m.audience_size,
            classes="d-none d-lg-table-cell",
        ),
        Column(
            "created",
            gettext_lazy("Created"),
            lambda m: moment_text(m.created_at),
            ("created_at",),
            classes="d-none d-lg-table-cell",
        ),
    ]

    def get_filterset(self, data: dict) -> MailingFilter:
        return selectors.mailing_list(self.request.user, data)

    def annotate(self, queryset: QuerySet[Mailing]) -> QuerySet[Mailing]:
        return selectors.with_tags(queryset)

    def prepare(self, objects: list[Mailing]) -> None:
        # The page's audience sizes in one query (R-AUD-3).
        sizes = selectors.audience_sizes(objects)
        for mailing in objects:
            mailing.audience_size = sizes[mailing.pk]

    def row_url(self, obj: Mailing) -> str:
        return reverse("mailings:detail", args=[obj.pk])

    def row_actions(self, obj: Mailing) -> list[Action]:
        return [
            Action(_("Report"), reverse("mailings:report", args=[obj.pk]), "bar-chart"),
            Action(_("Edit"), reverse("mailings:edit", args=[obj.pk]), "pencil"),
            Action(_("Delete"), reverse("mailings:delete", args=[obj.pk]), "trash", "outline-danger"),
        ]

    def get_context(self, context: dict) -> dict:
        context = super().get_context(context)
        form = self.filters.form
        context["filters"] = [form[name] for name in ("status", "periodicity", "active")]
        context["filtered"] = self.filters.chosen
        return context


# --- create and edit: the clients picker ---------------------------------------------------------------


class MailingFormMixin:
    form_class = MailingForm
    template_name = "web/mailings/form.html"
    list_url = LIST_URL

    def extra_context(self, form: MailingForm) -> dict:
        """The audience's choices, and the chosen clients as they stand after what was typed: never the
        owner's whole list, nor all of a mailing's 100,000 chosen clients — their count and one page of them
        (R-AUD-3). The picker (client-picker.js) asks /graphql/ for the rest and sends only the changes."""
        owner = form.owner
        mailing = form.instance
        shown = mailing.clients.order_by("full_name", "email", "pk")[:CHOSEN_SHOWN] if mailing.pk else []
        removed = _ids(form["clients_removed"].value())
        added_ids = _ids(form["clients_added"].value())
        added = (
            selectors.clients_for(owner).filter(pk__in=added_ids).order_by("full_name", "email", "pk")
            if added_ids
            else []
        )
        chosen = [_chip(client, removed=client.pk in removed) for client in shown]
        chosen_count = mailing.clients.count() if mailing.pk else 0
        # Removals typed among the clients "Show more" loaded: not among the chips a re-shown form has, so
        # they go back as hidden inputs, or a second submit would keep those clients.
        removed_elsewhere = sorted(removed - {chip["pk"] for chip in chosen})
        chosen_removed = mailing.clients.filter(pk__in=removed).count() if mailing.pk and removed else 0
        chosen_added = mailing.clients.filter(pk__in=added_ids).count() if mailing.pk and added_ids else 0
        tags = _ids(form["tags"].value())
        return {
            "time_zone": owner.time_zone,
            "audience": form["audience"].value() or mailing.audience,
            "audiences": Mailing.Audience.choices,
            "tag_rows": [
                {"pk": tag.pk, "name": tag.name, "checked": tag.pk in tags}
                for tag in form.fields["tags"].queryset.order_by("name", "pk")
            ],
            "tag_match": form["tag_match"].value() or mailing.tag_match,
            "tag_matches": Mailing.TagMatch.choices,
            "chosen": chosen,
            "chosen_count": chosen_count,
            "chosen_more": max(0, chosen_count - len(chosen)),
            "mailing_global_id": to_global_id("Mailing", mailing.pk) if mailing.pk else "",
            "added": [_chip(client) for client in added],
            "removed_elsewhere": removed_elsewhere,
            "picked_count": chosen_count - chosen_removed + len(added) - chosen_added,
            "has_clients": selectors.clients_for(owner).exists(),
        }

    def success_url(self, obj: Mailing) -> str:
        return reverse("mailings:detail", args=[obj.pk])


# A mailing's edit page shows this many of its chosen clients (and their count), however many it has.
CHOSEN_SHOWN = 20


def _ids(values) -> set[int]:
    """The whole numbers among a field's raw values (what was typed may be anything)."""
    if values is None or isinstance(values, (str, int)):
        values = [] if values is None else [values]
    result = set()
    for value in values:
        value = getattr(value, "pk", value)
        try:
            number = int(value)
        except (TypeError, ValueError):
            continue
        if 0 < number < 2**63:
            result.add(number)
    return result


def _chip(client: Client, *, removed: bool = False) -> dict:
    return {
        "pk": client.pk,
        "name": client.full_name,
        "email": client.email,
        "subscribed": client.unsubscribed_at is None,
        "removed": removed,
    }


def quota_warning(request: HttpRequest, mailing: Mailing, *, sending_now: bool = False) -> None:
    """What the owner's daily quota means for `mailing` (`limits.quota_notice`), as a warning next to the
    page's success message; the API returns the same words as `quotaWarning`."""
    notice = limits.quota_notice(mailing, sending_now=sending_now)
    if notice:
        messages.warning(request, notice)


class MailingCreate(MailingFormMixin, OwnerCreateView):
    title = gettext_lazy("New mailing")

    def perform_create(self, data: QueryDict) -> Mailing:
        mailing = services.mailing_create(actor=self.request.user, data=data)
        quota_warning(self.request, mailing)
        return mailing

    def created_message(self, obj: Mailing) -> str:
        if selectors.is_due(obj):
            return _("Mailing “%(name)s” created; it starts sending within a few seconds.") % {
                "name": obj.name
            }
        return _("Mailing “%(name)s” created.") % {"name": obj.name}


class MailingEdit(MailingFormMixin, OwnerEditView):
    def lookup(self, pk: int) -> Model:
        return selectors.own_mailings(self.request.user).get(pk=pk)

    def perform_update(self, obj: Mailing, data: QueryDict) -> Mailing:
        mailing = services.mailing_update(actor=self.request.user, mailing=obj, data=data)
        quota_warning(self.request, mailing)
        return mailing

    def edit_title(self, obj: Mailing) -> str:
        return _("Edit mailing “%(name)s”") % {"name": obj.name}

    def updated_message(self, obj: Mailing) -> str:
        return _("Mailing “%(name)s” saved.") % {"name": obj.name}


class OwnMailingMixin(OwnerObjectMixin):
    def lookup(self, pk: int) -> Model:
        return selectors.own_mailings(self.request.user).get(pk=pk)


class MailingDelete(OwnMailingMixin, OwnerDeleteView):
    list_url = LIST_URL

    def perform_delete(self, obj: Mailing) -> None:
        services.mailing_delete(actor=self.request.user, mailing=obj)

    def delete_title(self, obj: Mailing) -> str:
        return _("Delete mailing “%(name)s”?") % {"name": obj.name}

    def deleted_message(self, label: str) -> str:
        return _("Mailing %(mailing)s deleted.") % {"mailing": label}

    def consequences(self, obj: Mailing) -> list[str]:
        sends = obj.occurrences.count()
        result = [_("Nothing more is sent for it; the message and the clients stay.")]
        if sends:
            result.append(
                ngettext(
                    "Its %(count)d send and its delivery log are deleted with it.",
                    "Its %(count)d sends and their delivery log are deleted with it.",
                    sends,
                )
                % {"count": sends}
            )
        return result


# --- the detail page and "send now" --------------------------------------------------------------------


class MailingDetail(OwnMailingMixin, View):
    template_name = "web/mailings/detail.html"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        mailing = self.get_object(pk)
        now = timezone.now()
        latest = (
            # Counts only: the page shows no attempt times (reading them is most of a running send's cost).
            selectors.occurrences_with_stats(request.user, mailing=mailing, attempt_times=False)
            .order_by("-scheduled_for", "-pk")
            .first()
        )
        counts = mailing.clients.aggregate(
            total=Count("pk"), subscribed=Count("pk", filter=Q(unsubscribed_at__isnull=True))
        )
        due = selectors.is_due(mailing, now)
        try:
            services.mailing_check_send_now(actor=request.user, mailing=mailing)
        except ValidationError as exc:
            send_now_refusal = error_text(exc)
        else:
            send_now_refusal = ""
        running = latest is not None and latest.finished_at is None
        quota = limits.quota_status(mailing.owner, now)
        if running:
            state = "running"
        elif due:
            state = "waiting"
        else:
            state = "done" if latest is not None else "none"
        context = {
            "mailing": mailing,
            "title": mailing.name,
            "status_badges": live_status_badges(mailing),
            # "Send now" is offered only when the domain would queue it; otherwise its reason is shown.
            "send_now_refusal": send_now_refusal,
            "upcoming": mailing.upcoming(after=now, limit=UPCOMING_SHOWN)
            if mailing.is_active and mailing.paused_at is None
            else [],
            "latest": latest,
            "progress": _progress(latest),
            # The page asks /graphql/ for progress while a send runs or is about to start.
            "live": running or due,
            "state": state,
            "global_id": to_global_id("Mailing", mailing.pk),
            "audience": audience_text(mailing),
            "audience_size": selectors.audience_size(mailing),
            "clients_total": counts["total"],
            "clients_subscribed": counts["subscribed"],
            "sending_paused": mailing.owner.sending_paused_at is not None,
            # Deliveries of this send that the owner's daily quota keeps back until their next day (R-DLV-5).
            "quota_wait": quota.resets_at if running and quota.left == 0 and latest.waiting_count else None,
            # Who the next send comes from, as the engine will decide it (R-DLV-1).
            "sender": selectors.sender_for(mailing),
            "sender_unusable": bool(mailing.sender_id)
            and not selectors.usable_senders(mailing.owner).filter(pk=mailing.sender_id).exists(),
        }
        return render(request, self.template_name, context)


def _progress(occurrence) -> dict:
    """Counts and bar widths (percent) of one occurrence: what the live script later updates."""
    if occurrence is None:
        return {"total": 0, "sent": 0, "failed": 0, "waiting": 0, "skipped": 0, "widths": {}}
    parts = {
        "sent": occurrence.sent_count,
        "failed": occurrence.failed_count,
        "waiting": occurrence.waiting_count,
        "skipped": occurrence.skipped_count,
    }
    total = sum(parts.values())
    widths = {name: (100 * value / total if total else 0) for name, value in parts.items()}
    return {"total": total, **parts, "widths": widths}


class MailingPause(OwnMailingMixin, View):
    """POST only: the owner pauses (`mailing_pause`) or resumes (`mailing_resume`) their mailing (R-OWN-1)."""

    resume = False

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        mailing = self.get_object(pk)
        if self.resume:
            mailing = services.mailing_resume(actor=request.user, mailing=mailing)
            if not mailing.is_active:
                messages.warning(
                    request,
                    _("Resumed, but a manager disabled this mailing: nothing is sent until they enable it."),
                )
            else:
                messages.success(request, _("Resumed: what was waiting is sent, no one twice."))
        else:
            services.mailing_pause(actor=request.user, mailing=mailing)
            messages.success(request, _("Paused: nothing more is sent until you resume it."))
        return redirect("mailings:detail", pk=mailing.pk)


class MailingSendNow(OwnMailingMixin, View):
    """POST only: queue a manual send (`mailing_send_now`); the scheduler sends it, never this request."""

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        mailing = self.get_object(pk)
        notice = limits.quota_notice(mailing, sending_now=True)
        try:
            occurrence = services.mailing_send_now(actor=request.user, mailing=mailing)
        except ValidationError as exc:
            messages.error(request, error_text(exc))
        else:
            if notice:
                messages.warning(request, notice)
            count = occurrence.deliveries.count()
            messages.success(
                request,
                ngettext(
                    "Queued for %(count)d recipient; the scheduler sends it within a few seconds.",
                    "Queued for %(count)d recipients; the scheduler sends it within a few seconds.",
                    count,
                )
                % {"count": count},
            )
        return redirect("mailings:detail", pk=mailing.pk)
