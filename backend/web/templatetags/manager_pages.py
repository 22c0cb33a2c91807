"""Whether the navbar offers the manager dashboard to the signed-in user (the same test the page applies)."""

from django import template

from backend.web.pages.manager import has_manager_page as _has_manager_page

register = template.Library()


@register.filter
def has_manager_page(user) -> bool:
    # The 500 page renders without a request context, so `user` may be missing (an empty string).
    return getattr(user, "is_authenticated", False) and _has_manager_page(user)
