"""Account-level decisions shared by every layer."""

from django.contrib.auth.models import AnonymousUser

from .models import User


def user_can_act(user: User | AnonymousUser | None) -> bool:
    """True for a signed-in, active, unblocked user: the one gate every page, API call and service uses."""
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and not getattr(user, "is_blocked", False)
    )
