"""Django admin: until the pages exist a superuser can build and inspect everything here."""

from django import forms
from django.contrib import admin
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _

from .models import Client, Delivery, DeliveryAttempt, Mailing, Message, Occurrence, Unsubscription
from .services import mailing_reschedule


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    list_display = ["email", "full_name", "owner", "created_at", "unsubscribed_at"]
    list_filter = [("unsubscribed_at", admin.EmptyFieldListFilter), "created_at"]
    search_fields = ["email", "full_name", "owner__email"]
    autocomplete_fields = ["owner"]
    readonly_fields = ["created_at", "unsubscribe_token"]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["subject", "owner", "updated_at"]
    search_fields = ["subject", "body", "owner__email"]
    autocomplete_fields = ["owner"]


class MailingAdminForm(forms.ModelForm):
    class Meta:
        model = Mailing
        fields = [
            "owner",
            "message",
            "clients",
            "start_at",
            "end_at",
            "periodicity",
            "time_zone",
            "is_active",
        ]

    def clean(self):
        cleaned = super().clean()
        owner, message, clients = cleaned.get("owner"), cleaned.get("message"), cleaned.get("clients")
        if owner and message and message.owner_id != owner.pk:
            self.add_error("message", _("The message must belong to the mailing's owner."))
        if owner and clients is not None and clients.exclude(owner=owner).exists():
            self.add_error("clients", _("Every client must belong to the mailing's owner."))
        if owner and not cleaned.get("time_zone"):
            cleaned["time_zone"] = owner.time_zone
        return cleaned


@admin.register(Mailing)
class MailingAdmin(admin.ModelAdmin):
    form = MailingAdminForm
    list_display = [
        "id",
        "message",
        "owner",
        "periodicity",
        "status",
        "is_active",
        "start_at",
        "end_at",
        "next_run_at",
    ]
    list_filter = ["status", "periodicity", "is_active"]
    search_fields = ["message__subject", "owner__email"]
    autocomplete_fields = ["owner", "message"]
    filter_horizontal = ["clients"]
    readonly_fields = [
        "status",
        "next_run_at",
        "upcoming_occurrences",
        "disabled_at",
        "disabled_by",
        "created_at",
    ]

    @admin.display(description=_("Next occurrences"))
    def upcoming_occurrences(self, obj: Mailing) -> str:
        if not obj.pk:
            return "-"
        now = timezone.now()
        moments = ([obj.next_run_at] if obj.next_run_at and obj.next_run_at <= now else []) + obj.upcoming(
            after=now, limit=5
        )
        if not moments:
            return str(_("none left"))
        tz = obj.tz
        return format_html_join(
            "", "<div>{}</div>", ((m.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z"),) for m in moments)
        )

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        initial.setdefault("time_zone", request.user.time_zone)
        return initial

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        mailing_reschedule(form.instance)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Occurrence)
class OccurrenceAdmin(ReadOnlyAdmin):
    list_display = ["mailing", "scheduled_for", "is_manual", "created_at", "finished_at"]
    list_filter = ["is_manual", "scheduled_for"]
    search_fields = ["mailing__message__subject"]


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = [
        "email",
        "mailing",
        "occurrence",
        "status",
        "attempts",
        "last_attempt_at",
        "last_response",
    ]
    list_filter = ["status", "last_attempt_at"]
    search_fields = ["email", "mailing__message__subject", "last_response"]
    list_select_related = ["mailing__message", "occurrence"]


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(ReadOnlyAdmin):
    list_display = ["attempted_at", "delivery", "outcome", "smtp_code", "response"]
    list_filter = ["outcome", "smtp_code", "attempted_at"]
    search_fields = ["delivery__email", "response"]
    list_select_related = ["delivery"]


@admin.register(Unsubscription)
class UnsubscriptionAdmin(ReadOnlyAdmin):
    list_display = ["email", "owner", "created_at"]
    search_fields = ["email", "owner__email"]
