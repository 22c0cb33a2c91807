from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

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
    readonly_fields = ["last_login", "date_joined", "blocked_at", "blocked_by"]
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
