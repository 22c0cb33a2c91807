"""Whether the navbar offers the owner pages to the signed-in user (the same test the pages apply)."""

from django import template

from backend.web.pages.generic import has_owner_pages as _has_owner_pages

register = template.Library()


@register.filter
def has_owner_pages(user) -> bool:
    # The 500 page renders without a request context, so `user` may be missing (an empty string).
    return getattr(user, "is_authenticated", False) and _has_owner_pages(user)
