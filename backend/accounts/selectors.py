"""Reads of accounts (R-AUTH-5): every user list a page or the API shows starts here."""

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from backend.mailings.models import Mailing

from . import roles
from .filters import UserFilter
from .models import User


def users_for(actor: User) -> QuerySet[User]:
    """Every user, for those allowed to see the list (`roles.sees_all_users`), each with `mailings_count` and
    `blocked_by` loaded in the same query; nobody else sees it.

    The count is a subquery, not a join: a join would multiply the rows of any queryset this one is combined
    with (`queryset & users_for(actor)`, as the API's node types do) and square the count."""
    if not roles.sees_all_users(actor):
        return User.objects.none()
    count = (
        Mailing.objects.filter(owner=OuterRef("pk"))
        .order_by()
        .values("owner")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return User.objects.select_related("blocked_by").annotate(mailings_count=Coalesce(Subquery(count), 0))


def _require_sees_users(actor: User) -> None:
    if not roles.sees_all_users(actor):
        raise PermissionDenied(_("Only managers can see or manage users."))


def user_get(actor: User, pk: int) -> User:
    """One user of the list (to block or unblock): PermissionDenied for those who may not see the list,
    User.DoesNotExist for an unknown pk."""
    _require_sees_users(actor)
    return users_for(actor).get(pk=pk)


def user_list(actor: User, filters: Mapping[str, Any] | None = None) -> UserFilter:
    """The user list (`users_for`) narrowed by `UserFilter`: every word of `search` in the email, first or
    last name (any letter case); `blocked` / `verified` when given. PermissionDenied for those who may not
    see it."""
    _require_sees_users(actor)
    return UserFilter(filters, queryset=users_for(actor))
