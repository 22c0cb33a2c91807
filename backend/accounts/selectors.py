"""Reads of accounts (R-AUTH-5): every user list a page or the API shows starts here."""

from django.db.models import Count, Q, QuerySet

from .models import User
from .services import user_can_act

VIEW_ALL_USERS = "accounts.view_all_users"


def users_for(actor: User) -> QuerySet[User]:
    """Every user, for those allowed to see the list (managers, i.e. the Managers group's
    `accounts.view_all_users`, and superusers), each with `mailings_count` and `blocked_by` loaded in the
    same query; nobody else sees it."""
    if not (user_can_act(actor) and actor.has_perm(VIEW_ALL_USERS)):
        return User.objects.none()
    return User.objects.select_related("blocked_by").annotate(mailings_count=Count("mailings"))


def users_filter(
    users: QuerySet[User],
    *,
    search: str | None = None,
    blocked: bool | None = None,
    verified: bool | None = None,
) -> QuerySet[User]:
    """Narrow a `users_for` list: every word of `search` in the email, first or last name (any letter
    case); `blocked` / `verified` when not None."""
    for word in (search or "").split():
        users = users.filter(
            Q(email__icontains=word) | Q(first_name__icontains=word) | Q(last_name__icontains=word)
        )
    if blocked is not None:
        users = users.filter(is_blocked=blocked)
    if verified is not None:
        users = users.filter(email_verified=verified)
    return users


def is_content_editor(user: User) -> bool:
    """A blog editor (R-AUTH-6): works in the Wagtail admin only and keeps no lists of clients or messages.
    A superuser with the same permission is not one: a superuser may do everything."""
    return user_can_act(user) and not user.is_superuser and user.has_perm("wagtailadmin.access_admin")
