"""The Django admin site: a superuser's tool and a thin adapter like every other.

Only active, unblocked superusers get in: a staff flag alone, a manager or a content editor made staff get
the login page and cannot log in there (managers work in the pages, editors in Wagtail's /cms/).
"""

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from backend.accounts import roles
from backend.accounts.models import User


class SuperuserAuthenticationForm(AdminAuthenticationForm):
    error_messages = {
        **AdminAuthenticationForm.error_messages,
        # Django's text speaks of a staff account and case-sensitive fields: here only superusers get in,
        # and the email is not case-sensitive.
        "invalid_login": _(
            "Please enter the email and password of a superuser account. The password is case-sensitive; "
            "the email is not."
        ),
    }

    def confirm_login_allowed(self, user: User) -> None:
        super().confirm_login_allowed(user)
        if not roles.may_use_admin(user):
            # The same answer as a wrong password: the admin login tells no one which accounts are staff.
            raise ValidationError(
                self.error_messages["invalid_login"],
                code="invalid_login",
                params={"username": self.username_field.verbose_name},
            )


class MailerAdminSite(admin.AdminSite):
    login_form = SuperuserAuthenticationForm

    def has_permission(self, request: HttpRequest) -> bool:
        return roles.may_use_admin(request.user)


class ReadOnlyAdmin(admin.ModelAdmin):
    """The delivery log: viewed, never added, changed or deleted on its own (it goes with its mailing)."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class DeletesItsLogMixin:
    """For objects whose deletion takes log rows with it (a mailing, a user): the log is read-only on its own,
    so the admin must not refuse the deletion for lack of a permission no one has."""

    def get_deleted_objects(self, objs, request):
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        log_names = {
            str(model._meta.verbose_name)
            for model, model_admin in self.admin_site._registry.items()
            if isinstance(model_admin, ReadOnlyAdmin)
        }
        return deleted, counts, {name for name in perms_needed if str(name) not in log_names}, protected
