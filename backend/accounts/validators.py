"""A password "validator" that validates nothing: Django calls each validator's `password_changed(password,
user)` after every `set_password()` + `save()` (the change and reset pages, the email-verification page, the
admin, `changepassword`), so this is the one hook no password change can bypass."""

from django.utils.translation import gettext as _

from . import services


class EndApiSessionsOnPasswordChange:
    """A new password ends the account's API sessions: its refresh tokens are revoked (its access tokens stop
    working on their own: they carry a fingerprint of the old password, backend/api/core/auth.py)."""

    def validate(self, password: str, user=None) -> None:
        return None

    def password_changed(self, password: str, user=None) -> None:
        if user is not None and user.pk is not None:
            services.refresh_tokens_revoke_all(user=user)

    def get_help_text(self) -> str:
        return _("A new password signs you out of every API client.")
