"""Reads of accounts (R-AUTH-5): every user list a page or the API shows starts here."""

from django.db.models import QuerySet

from .models import User
from .services import user_can_act

VIEW_ALL_USERS = "accounts.view_all_users"


def users_for(actor: User) -> QuerySet[User]:
    """Every user, for those allowed to see the list (managers, superusers); nobody else sees it."""
    if not (user_can_act(actor) and actor.has_perm(VIEW_ALL_USERS)):
        return User.objects.none()
    return User.objects.all()


def is_content_editor(user: User) -> bool:
    """A blog editor (R-AUTH-6): works in the Wagtail admin only and keeps no lists of clients or messages.
    A superuser with the same permission is not one: a superuser may do everything."""
    return user_can_act(user) and not user.is_superuser and user.has_perm("wagtailadmin.access_admin")
