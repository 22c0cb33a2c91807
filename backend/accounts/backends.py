"""Authentication by email in any letter case; blocked users cannot authenticate."""

from django.contrib.auth.backends import ModelBackend


class EmailBackend(ModelBackend):
    def user_can_authenticate(self, user) -> bool:
        return super().user_can_authenticate(user) and not getattr(user, "is_blocked", False)
