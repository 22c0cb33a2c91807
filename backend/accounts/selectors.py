"""Reads of accounts (R-AUTH-5): every user list a page or the API shows starts here."""

from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from backend.mailings.models import Mailing

from .filters import UserFilter
from .models import User
from .services import user_can_act

VIEW_ALL_USERS = "accounts.view_all_users"


def can_view_users(actor: User) -> bool:
    """Managers (the Managers group's `accounts.view_all_users`) and superusers may see the user list."""
    return user_can_act(actor) and actor.has_perm(VIEW_ALL_USERS)


def users_for(actor: User) -> QuerySet[User]:
    """Every user, for those allowed to see the list (`can_view_users`), each with `mailings_count` and
    `blocked_by` loaded in the same query; nobody else sees it.

    The count is a subquery, not a join: a join would multiply the rows of any queryset this one is combined
    with (`queryset & users_for(actor)`, as the API's node types do) and square the count."""
    if not can_view_users(actor):
        return User.objects.none()
    count = (
        Mailing.objects.filter(owner=OuterRef("pk"))
        .order_by()
        .values("owner")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return User.objects.select_related("blocked_by").annotate(mailings_count=Coalesce(Subquery(count), 0))


def user_get(actor: User, pk: int) -> User:
    """One user of the list (to block or unblock): PermissionDenied for those who may not see the list,
    User.DoesNotExist for an unknown pk."""
    if not can_view_users(actor):
        raise PermissionDenied(_("Only managers can see or manage users."))
    return users_for(actor).get(pk=pk)


def granted(users: QuerySet[User], permission: str) -> QuerySet[User]:
    """Those of `users` given `permission` ("app_label.codename") directly or through a group, for any
    number of users in one query (a superuser holds every permission without being given it)."""
    app_label, codename = permission.split(".", 1)
    permissions = Permission.objects.filter(content_type__app_label=app_label, codename=codename)
    direct = User.user_permissions.through.objects.filter(user_id=OuterRef("pk"), permission__in=permissions)
    via_group = User.groups.through.objects.filter(user_id=OuterRef("pk"), group__permissions__in=permissions)
    return users.filter(Q(Exists(direct)) | Q(Exists(via_group)))


def user_list(actor: User, filters: Mapping[str, Any] | None = None) -> UserFilter:
    """The user list (`users_for`) narrowed by `UserFilter`: every word of `search` in the email, first or
    last name (any letter case); `blocked` / `verified` when given."""
    return UserFilter(filters, queryset=users_for(actor))


def is_content_editor(user: User) -> bool:
    """A blog editor (R-AUTH-6): works in the Wagtail admin only and keeps no lists of clients or messages.
    A superuser with the same permission is not one: a superuser may do everything."""
    return user_can_act(user) and not user.is_superuser and user.has_perm("wagtailadmin.access_admin")
