"""Who may do what: every role predicate of the product, each with one meaning, in one place (R-AUTH).

Pages, templates, the API, the admin, the login backend and the services ask these functions and nothing
else, so a page and a GraphQL call can never disagree. tests/accounts/test_roles.py holds the table of every
predicate's answer for every kind of account: it is the reference of who may do what.

Two kinds of predicate:
- a role (`is_manager`, `is_content_editor`) is what the account was given, whatever its state: a blocked
  manager is still a manager, as the managers' user list shows them;
- a capability (`may_…`, `sees_…`, `has_…`) is what the user may do now, so it is False for anyone who may
  not act (signed out, inactive, blocked).

The roles are permissions, given through the groups the data migration creates ("Managers", "Content
editors") or one by one; a superuser holds every permission without being given it, so the roles ask whether
a permission was given, and the capabilities whether it is held.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib.auth.models import AnonymousUser, Permission
from django.db.models import Exists, OuterRef, Q, QuerySet

if TYPE_CHECKING:
    from .models import User

    Actor = User | AnonymousUser | None
else:
    Actor = Any

# The permissions the roles are made of (backend/accounts/migrations/0003_roles.py gives them to the groups).
VIEW_ALL_MAILINGS = "mailings.view_all_mailings"
DISABLE_MAILING = "mailings.disable_mailing"
VIEW_ALL_USERS = "accounts.view_all_users"
BLOCK_USER = "accounts.block_user"
EDIT_BLOG = "wagtailadmin.access_admin"


# --- the gates ------------------------------------------------------------------------------------------


def may_act(user: Actor) -> bool:
    """Signed in, active and not blocked: the gate of every page, API call and service."""
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and not getattr(user, "is_blocked", False)
    )


def may_act_q(path: str = "") -> Q:
    """`may_act` as a filter on users reached through `path` (e.g. "owner"), for queries over many rows."""
    prefix = f"{path}__" if path else ""
    return Q(**{f"{prefix}is_active": True, f"{prefix}is_blocked": False})


def may_sign_in(user: Actor) -> bool:
    """May act and has confirmed the email: may log in, and may be issued, refresh and use API tokens."""
    return may_act(user) and bool(getattr(user, "email_verified", False))


# --- roles: what the account was given ------------------------------------------------------------------


def is_manager(user: Actor) -> bool:
    """Was given the managers' role (to view every mailing), blocked or not; being a superuser is not it."""
    return _given(user, VIEW_ALL_MAILINGS)


def is_content_editor(user: Actor) -> bool:
    """Was given the Wagtail admin (the blog) and is not a superuser: works on the blog only (R-AUTH-6)."""
    return user is not None and not user.is_superuser and _given(user, EDIT_BLOG)


def managers_among(users: QuerySet[User]) -> QuerySet[User]:
    """Those of `users` for whom `is_manager` is True, for any number of users in one query."""
    return _given_among(users, VIEW_ALL_MAILINGS)


# --- capabilities: what the user may do now --------------------------------------------------------------


def sees_all_mailings(user: Actor) -> bool:
    """May act and may view every owner's mailings and their counts, read-only (managers, superusers)."""
    return may_act(user) and user.has_perm(VIEW_ALL_MAILINGS)


def may_disable_mailings(user: Actor) -> bool:
    """May act and may disable and re-enable any owner's mailing (managers, superusers)."""
    return may_act(user) and user.has_perm(DISABLE_MAILING)


def may_revoke_senders(user: Actor) -> bool:
    """May act and may see every owner's sender identities and revoke one (managers, superusers; R-DLV-1)."""
    return may_act(user) and user.has_perm(DISABLE_MAILING)


def sees_all_users(user: Actor) -> bool:
    """May act and may view the list of every user (managers, superusers)."""
    return may_act(user) and user.has_perm(VIEW_ALL_USERS)


def may_block_users(user: Actor) -> bool:
    """May act and may block and unblock users (managers, superusers); whom is the blocking service's rule."""
    return may_act(user) and user.has_perm(BLOCK_USER)


def may_edit_for_any_owner(user: Actor) -> bool:
    """May act and is a superuser: edits every owner's clients, messages and mailings, adds to any list."""
    return may_act(user) and user.is_superuser


def sees_all_delivery_logs(user: Actor) -> bool:
    """May act and is a superuser: reads every mailing's per-recipient log (a manager sees counts only)."""
    return may_act(user) and user.is_superuser


def sees_relay_answers(user: Actor) -> bool:
    """May act and is a superuser: reads mail servers' raw answers, which name relays and internal hosts."""
    return may_act(user) and user.is_superuser


def has_owner_pages(user: Actor) -> bool:
    """May act and keeps lists of their own: a superuser, or anyone neither a manager nor a content editor."""
    return may_act(user) and (user.is_superuser or not (is_manager(user) or is_content_editor(user)))


def has_manager_page(user: Actor) -> bool:
    """May view every mailing or the list of users: gets the managers' dashboard (managers, superusers)."""
    return sees_all_mailings(user) or sees_all_users(user)


def may_use_admin(user: Actor) -> bool:
    """May act and is a staff superuser: gets into the Django admin (a staff flag alone does not)."""
    return may_act(user) and user.is_staff and user.is_superuser


def may_use_cms(user: Actor) -> bool:
    """May act and may open the Wagtail admin (`/cms/`, the blog's editor): content editors and superusers
    (R-AUTH-6); the site's navigation offers it to them."""
    return may_act(user) and (user.is_superuser or _given(user, EDIT_BLOG))


# Every predicate above, by name: the templates' filters (web/templatetags/roles.py) and the table test.
PREDICATES = {
    function.__name__: function
    for function in (
        may_act,
        may_sign_in,
        is_manager,
        is_content_editor,
        sees_all_mailings,
        may_disable_mailings,
        may_revoke_senders,
        sees_all_users,
        may_block_users,
        may_edit_for_any_owner,
        sees_all_delivery_logs,
        sees_relay_answers,
        has_owner_pages,
        has_manager_page,
        may_use_admin,
        may_use_cms,
    )
}


# --- how a permission counts as given --------------------------------------------------------------------


def _given(user: Actor, permission: str) -> bool:
    if user is None or not user.is_authenticated:
        return False
    if user.is_active and not user.is_superuser:
        # For an active non-superuser, holding is being given; `has_perm` caches the account's permissions
        # on the instance, so the many questions a request asks cost one load.
        return user.has_perm(permission)
    return _given_among(type(user).objects.filter(pk=user.pk), permission).exists()


def _given_among(users: QuerySet[User], permission: str) -> QuerySet[User]:
    app_label, codename = permission.split(".", 1)
    permissions = Permission.objects.filter(content_type__app_label=app_label, codename=codename)
    user = OuterRef("pk")
    direct = users.model.user_permissions.through.objects.filter(user_id=user, permission__in=permissions)
    via_group = users.model.groups.through.objects.filter(user_id=user, group__permissions__in=permissions)
    return users.filter(Q(Exists(direct)) | Q(Exists(via_group)))
