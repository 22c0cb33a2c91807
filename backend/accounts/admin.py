from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext_lazy as _

from . import services
from .models import User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
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

    def _apply(self, request, queryset, service, done_message):
        done = 0
        for user in queryset:
            try:
                service(actor=request.user, user=user)
            except PermissionDenied as exc:
                self.message_user(request, f"{user.email}: {exc}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(request, done_message % {"count": done}, messages.SUCCESS)

    @admin.action(description=_("Block the selected users"), permissions=["change"])
    def block_users(self, request, queryset):
        self._apply(request, queryset, services.user_block, _("Blocked %(count)d user(s)."))

    @admin.action(description=_("Unblock the selected users"), permissions=["change"])
    def unblock_users(self, request, queryset):
        self._apply(request, queryset, services.user_unblock, _("Unblocked %(count)d user(s)."))
