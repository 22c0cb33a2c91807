"""Authentication by email in any letter case (R-AUTH-1). Only verified (R-AUTH-2), unblocked (R-AUTH-5),
active accounts may authenticate."""

from django.contrib.auth.backends import ModelBackend

from . import roles
from .errors import ErrorCode

# Set on the request when the password was right but the account may not log in: ErrorCode.BLOCKED or
# ErrorCode.UNVERIFIED.
# The login form says why from it, so no password is checked twice.
REFUSAL = "login_refusal"


class EmailBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        """ModelBackend's check, with exactly one password hash whatever the outcome (an unknown address
        hashes a dummy, as Django does), and the reason a right password is refused left on the request."""
        from django.contrib.auth import get_user_model

        User = get_user_model()
        if username is None:
            username = kwargs.get(User.USERNAME_FIELD)
        if username is None or password is None:
            return None
        try:
            user = User._default_manager.get_by_natural_key(username)
        except User.DoesNotExist:
            User().set_password(password)
            return None
        if not user.check_password(password):
            return None
        if self.user_can_authenticate(user):
            return user
        if request is not None and user.is_active:
            setattr(request, REFUSAL, ErrorCode.BLOCKED if user.is_blocked else ErrorCode.UNVERIFIED)
        return None

    def user_can_authenticate(self, user) -> bool:
        # Django's hook for this question; the answer is the one the API's tokens get too.
        return roles.may_sign_in(user)

    def get_all_permissions(self, user_obj, obj=None):
        """ModelBackend's answer in one query instead of two (the user's own permissions and their groups'),
        cached on the user object as ModelBackend caches it: a role check costs one query per request."""
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            from django.contrib.auth.models import Permission
            from django.db.models import Q

            if user_obj.is_superuser:
                found = Permission.objects.all()
            else:
                found = Permission.objects.filter(Q(user=user_obj) | Q(group__user=user_obj))
            pairs = found.values_list("content_type__app_label", "codename").order_by().distinct()
            user_obj._perm_cache = {f"{app_label}.{codename}" for app_label, codename in pairs}
        return user_obj._perm_cache

    def get_user(self, user_id):
        # A blocked user's session still resolves to the user, so that LogoutBlockedUsersMiddleware can end
        # it with a message saying why; the middleware runs on every request before any view.
        user = self._get_user(user_id)
        return user if user is not None and user.is_active else None

    @staticmethod
    def _get_user(user_id):
        from django.contrib.auth import get_user_model

        User = get_user_model()
        try:
            return User._default_manager.get(pk=user_id)
        except User.DoesNotExist:
            return None
