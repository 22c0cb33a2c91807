"""Users in the Django admin (superusers only, backend/admin_site.py). Blocking and unblocking go through the
services after an intermediate page that asks for the reason."""

from functools import partial

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from backend.admin_site import DeletesItsLogMixin, ReadOnlyAdmin

from . import services
from .forms import BlockReasonForm
from .models import AccountEmail, User


@admin.register(User)
class UserAdmin(DeletesItsLogMixin, DjangoUserAdmin):
    ordering = ["email"]
    list_display = [
        "email",
        "first_name",
        "last_name",
        "is_active",
        "email_verified",
        "is_blocked",
        "is_staff",
    ]
    list_filter = ["is_active", "email_verified", "is_blocked", "is_staff", "is_superuser", "groups"]
    search_fields = ["email", "first_name", "last_name", "phone"]
    # Blocking goes through the actions below (the service records who, when and why), not the checkbox.
    readonly_fields = [
        "last_login",
        "date_joined",
        "is_blocked",
        "blocked_at",
        "blocked_by",
        "blocked_reason",
    ]
    actions = ["block_users", "unblock_users"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (
            _("Personal info"),
            {"fields": ("first_name", "last_name", "phone", "phone_verified_at", "time_zone")},
        ),
        (
            _("Status"),
            {
                "fields": (
                    "is_active",
                    "email_verified",
                    "is_blocked",
                    "blocked_at",
                    "blocked_by",
                    "blocked_reason",
                )
            },
        ),
        (_("Permissions"), {"fields": ("is_staff", "is_superuser", "groups", "user_permissions")}),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)

    def _apply(self, request, queryset, service, done_message) -> None:
        done = 0
        for user in queryset:
            try:
                service(actor=request.user, user=user)
            except PermissionDenied as exc:
                self.message_user(request, f"{user.email}: {exc}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(request, done_message(done) % {"count": done}, messages.SUCCESS)

    def _confirmation(self, request, queryset, action: str, form: forms.Form | None) -> TemplateResponse:
        """The intermediate page: what is about to happen to whom, and for a block, why."""
        opts = self.model._meta
        context = {
            **self.admin_site.each_context(request),
            "title": _("Block users") if action == "block_users" else _("Unblock users"),
            "opts": opts,
            "queryset": queryset,
            "action": action,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "form": form,
            "media": self.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/accounts/user/block_confirmation.html", context)

    @admin.action(description=_("Block the selected users…"), permissions=["change"])
    def block_users(self, request, queryset):
        form = BlockReasonForm(request.POST if request.POST.get("confirm") else None)
        if not form.is_valid():
            return self._confirmation(request, queryset, "block_users", form)
        block = partial(services.user_block, reason=form.cleaned_data["reason"])
        self._apply(
            request,
            queryset,
            block,
            lambda n: ngettext("Blocked %(count)d user.", "Blocked %(count)d users.", n),
        )
        return None

    @admin.action(description=_("Unblock the selected users…"), permissions=["change"])
    def unblock_users(self, request, queryset):
        if not request.POST.get("confirm"):
            return self._confirmation(request, queryset, "unblock_users", None)
        self._apply(
            request,
            queryset,
            services.user_unblock,
            lambda n: ngettext("Unblocked %(count)d user.", "Unblocked %(count)d users.", n),
        )
        return None


@admin.register(AccountEmail)
class AccountEmailAdmin(ReadOnlyAdmin):
    """The account-email outbox, read-only: what was asked, for whom, and what became of it.
    It holds no message bodies (they are rendered when sent), so none can show here."""

    list_display = ["created", "kind", "recipient", "status", "attempts", "next_try", "sent_at", "last_error"]
    list_filter = ["status", "kind", "created"]
    search_fields = ["recipient"]
    fields = [
        "kind",
        "recipient",
        "language",
        "status",
        "created",
        "expires",
        "attempts",
        "next_try",
        "sent_at",
        "finished",
        "last_error",
    ]
    readonly_fields = fields
