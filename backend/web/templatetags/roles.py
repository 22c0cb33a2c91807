"""The role predicates as template filters, one per predicate of `backend.accounts.roles` under its own name:
`{% load roles %}{% if user|has_manager_page %}`. A template asks the same function the views ask."""

from collections.abc import Callable

from django import template

from backend.accounts import roles

register = template.Library()


def _filter(predicate: Callable[[object], bool]) -> Callable[[object], bool]:
    def ask(user) -> bool:
        # The 500 page renders without a request context, so `user` may be missing (an empty string).
        return bool(getattr(user, "is_authenticated", False)) and predicate(user)

    return ask


for _name, _predicate in roles.PREDICATES.items():
    register.filter(_name, _filter(_predicate))
