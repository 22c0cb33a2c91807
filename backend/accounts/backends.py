"""Authentication by email in any letter case (R-AUTH-1). Only verified (R-AUTH-2), unblocked (R-AUTH-5),
active accounts may authenticate."""

from django.contrib.auth.backends import ModelBackend


class EmailBackend(ModelBackend):
    def user_can_authenticate(self, user) -> bool:
        return (
            super().user_can_authenticate(user)
            and getattr(user, "email_verified", False)
            and not getattr(user, "is_blocked", False)
        )

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
