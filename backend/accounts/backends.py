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
