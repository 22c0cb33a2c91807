"""The FilterSet of the managers' user list (the API's `users`), bound by `selectors.user_list`."""

import django_filters
from django.utils.translation import gettext_lazy as _

from backend.filtering import ListFilterSet, SearchFilter

from .models import User

# What a search for a person looks at: every word of it in the email, first or last name.
PERSON_FIELDS = ("email", "first_name", "last_name")


class UserFilter(ListFilterSet):
    search = SearchFilter(fields=PERSON_FIELDS, words=True, label=_("Search by email or name"))
    blocked = django_filters.BooleanFilter(field_name="is_blocked")
    verified = django_filters.BooleanFilter(field_name="email_verified")

    class Meta:
        model = User
        fields: list[str] = []
