"""One FilterSet per list of the mailings app: the pages and the API narrow a list with these, so a filter is
written once. The selectors bind them to what the user may see (`selectors.client_list` and the like); the
names of the fields are the API's arguments (snake_case) and, but for the pages' `q`, their URL parameters.
"""

import django_filters
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from backend.accounts.filters import PERSON_FIELDS
from backend.filtering import ListFilterSet, SearchFilter, YesNoFilter

from .models import Client, Delivery, DeliveryAttempt, Mailing, Message, Occurrence, SignupForm, Tag


class ClientFilter(ListFilterSet):
    search = SearchFilter(fields=("email", "full_name"), label=_("Search by email or name"))
    # A tag's id: the selector has already narrowed the list to the user's own clients, so another owner's
    # tag matches nobody.
    tag = django_filters.NumberFilter(field_name="tags", label=_("Tag"), min_value=1, max_value=2**63 - 1)
    # A hard bounce (or too many soft ones) read back: not sent to until reactivated (R-DLV-3).
    bounced = YesNoFilter(
        method="filter_bounced",
        label=_("Bounced"),
        choices=[("", _("Bounced or not")), ("yes", _("Bounced")), ("no", _("Not bounced"))],
    )

    class Meta:
        model = Client
        fields: list[str] = []

    def filter_bounced(self, queryset, name, value):
        return queryset if value is None else queryset.filter(bounced_at__isnull=not value)


class TagFilter(ListFilterSet):
    search = SearchFilter(fields=("name",), label=_("Search by name"))

    class Meta:
        model = Tag
        fields: list[str] = []


class SignupFormFilter(ListFilterSet):
    search = SearchFilter(fields=("name", "title"), label=_("Search by name or heading"))

    class Meta:
        model = SignupForm
        fields: list[str] = []


class MessageFilter(ListFilterSet):
    search = SearchFilter(fields=("subject", "body"), label=_("Search the subject and text"))

    class Meta:
        model = Message
        fields: list[str] = []


class MailingFilter(ListFilterSet):
    status = django_filters.ChoiceFilter(
        label=_("Status"), choices=Mailing.Status.choices, empty_label=_("Any status")
    )
    periodicity = django_filters.ChoiceFilter(
        label=_("Periodicity"), choices=Mailing.Periodicity.choices, empty_label=_("Any periodicity")
    )
    active = YesNoFilter(
        field_name="is_active",
        label=_("Active"),
        choices=[("", _("Active or disabled")), ("yes", _("Active")), ("no", _("Disabled by a manager"))],
    )
    search = SearchFilter(fields=("name", "message__subject"), label=_("Search by name or subject"))
    owner_search = SearchFilter(
        fields=tuple(f"owner__{field}" for field in PERSON_FIELDS), words=True, label=_("Owner")
    )

    class Meta:
        model = Mailing
        fields: list[str] = []


class OccurrenceFilter(ListFilterSet):
    mailing = django_filters.NumberFilter(field_name="mailing_id")

    class Meta:
        model = Occurrence
        fields: list[str] = []


class DeliveryFilter(ListFilterSet):
    """The delivery log. `occurrences` (pk, label) are the sends one may choose: a mailing's own on its
    report, the one the API looked up through `occurrences_for`; any other is not a choice."""

    mailing = django_filters.NumberFilter(field_name="mailing_id")
    occurrence = django_filters.TypedChoiceFilter(
        field_name="occurrence_id",
        label=pgettext_lazy("one occurrence of a mailing", "Send"),
        coerce=int,
        empty_value=None,
        choices=[],
    )
    status = django_filters.ChoiceFilter(
        label=_("Outcome"), choices=Delivery.Status.choices, empty_label=_("Any outcome")
    )
    email = SearchFilter(fields=("email",), label=_("Email"), max_length=254)

    class Meta:
        model = Delivery
        fields: list[str] = []

    def __init__(self, data=None, queryset=None, *, occurrences: list[tuple[int, str]] = (), **kwargs):
        super().__init__(data, queryset, **kwargs)
        self.filters["occurrence"].extra["choices"] = [("", _("Every send")), *occurrences]


class AttemptFilter(ListFilterSet):
    delivery = django_filters.NumberFilter(field_name="delivery_id")

    class Meta:
        model = DeliveryAttempt
        fields: list[str] = []
