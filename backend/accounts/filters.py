"""The FilterSet of the managers' user list (the API's `users`), bound by `selectors.user_list`."""

import django_filters
from django.utils.translation import gettext_lazy as _

from backend.filtering import ListFilterSet, SearchFilter

from .models import User


class UserFilter(ListFilterSet):
    search = SearchFilter(
        fields=("email", "first_name", "last_name"), words=True, label=_("Search by email or name")
    )
    blocked = django_filters.BooleanFilter(field_name="is_blocked")
    verified = django_filters.BooleanFilter(field_name="email_verified")

    class Meta:
        model = User
        fields: list[str] = []
