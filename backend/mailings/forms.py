"""The one validation for clients, messages and mailings: pages render these forms, GraphQL mutations and
the services run them. Every form takes its owner; every choice is limited to that owner's objects."""

import datetime as dt

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from backend.accounts.models import User

from . import personalize
from .errors import ErrorCode
from .models import Client, Mailing, Message


class OwnedModelForm(forms.ModelForm):
    """A ModelForm bound to an owner; naive date-times are read in the owner's time zone."""

    def __init__(self, *args, owner: User, **kwargs):
        self.owner = owner
        super().__init__(*args, **kwargs)

    def _clean_fields(self) -> None:
        with timezone.override(self.owner.tz):
            super()._clean_fields()

    def save(self, commit: bool = True):
        self.instance.owner = self.owner
        return super().save(commit=commit)


class ClientForm(OwnedModelForm):
    class Meta:
        model = Client
        fields = ["email", "full_name", "comment"]
        widgets = {"comment": forms.Textarea(attrs={"rows": 3})}

    def clean_email(self) -> str:
        email = User.objects.normalize_email(self.cleaned_data["email"])
        # The owner's whole list, whether or not the owner can act now: a superuser may work on a blocked
        # user's list, and the actor's rights are the service's check, not the form's.
        others = Client.objects.filter(owner=self.owner, email__iexact=email)
        if self.instance.pk:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            raise forms.ValidationError(
                _("You already have a client with this email."), code=ErrorCode.DUPLICATE_EMAIL
            )
        return email


class MessageForm(OwnedModelForm):
    class Meta:
        model = Message
        fields = ["subject", "body", "html_body"]
        widgets = {"body": forms.Textarea(attrs={"rows": 8}), "html_body": forms.Textarea(attrs={"rows": 6})}

    def __init__(self, *args, owner: User, **kwargs):
        super().__init__(*args, owner=owner, **kwargs)
        names = ", ".join(f"{{{name}}}" for name in personalize.PLACEHOLDERS)
        self.fields["body"].help_text = _("Plain text. Placeholders: %(names)s.") % {"names": names}

    def _check_placeholders(self, field: str) -> str:
        value = self.cleaned_data.get(field, "")
        unknown = personalize.unknown_placeholders(value)
        if unknown:
            raise forms.ValidationError(
                ngettext(
                    "Unknown placeholder: %(names)s. Known: %(known)s; write {{ and }} for literal braces.",
                    "Unknown placeholders: %(names)s. Known: %(known)s; write {{ and }} for literal braces.",
                    len(unknown),
                ),
                code=ErrorCode.UNKNOWN_PLACEHOLDER,
                params={
                    "names": ", ".join(f"{{{name}}}" for name in unknown),
                    "known": ", ".join(f"{{{name}}}" for name in personalize.PLACEHOLDERS),
                },
            )
        return value

    def clean_subject(self) -> str:
        subject = self._check_placeholders("subject")
        if "\n" in subject or "\r" in subject:
            raise forms.ValidationError(
                _("The subject must be a single line."), code=ErrorCode.MULTILINE_SUBJECT
            )
        return subject

    def clean_body(self) -> str:
        return self._check_placeholders("body")

    def clean_html_body(self) -> str:
        return self._check_placeholders("html_body")


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


# The dates a schedule can work with. Python's datetimes stop at the years 1 and 9999, so a date near either
# end overflows when it is moved to UTC or a period is added to it (on saving, on showing the next sends, in
# the scheduler); no real mailing needs dates this far out.
EARLIEST_DATE = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
LATEST_DATE = dt.datetime(3000, 1, 1, tzinfo=dt.UTC)


class ChoicesField(forms.ModelMultipleChoiceField):
    """Refuses a key beyond the database's 64-bit keys like any other key that is not a choice. Django
    passes it on in `pk IN (...)`, where SQLite fails with an OverflowError (an internal error, where the
    same key alone, in a ModelChoiceField, is "Select a valid choice")."""

    def _check_values(self, value):
        for pk in value if isinstance(value, (list, tuple)) else ():
            try:
                number = int(pk)
            except (TypeError, ValueError):
                continue  # Django's own check names it
            if not -(2**63) <= number < 2**63:
                raise forms.ValidationError(
                    self.error_messages["invalid_choice"], code=ErrorCode.INVALID_CHOICE, params={"value": pk}
                )
        return super()._check_values(value)


class MailingForm(OwnedModelForm):
    class Meta:
        model = Mailing
        fields = ["message", "clients", "start_at", "end_at", "periodicity"]
        field_classes = {"clients": ChoicesField}
        widgets = {
            "start_at": DateTimeInput(),
            "end_at": DateTimeInput(),
            "clients": forms.CheckboxSelectMultiple,
        }
        help_texts = {
            "start_at": _("In your time zone. The first occurrence; a start in the past sends at once."),
            "end_at": _("In your time zone. No occurrence at or after this moment."),
        }

    def __init__(self, *args, owner: User, **kwargs):
        super().__init__(*args, owner=owner, **kwargs)
        # Another owner's message or clients are not even valid choices ("Select a valid choice").
        self.fields["message"].queryset = Message.objects.filter(owner=owner)
        self.fields["clients"].queryset = Client.objects.filter(owner=owner)
        self.fields["clients"].required = True
        self.fields["start_at"].input_formats = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
        self.fields["end_at"].input_formats = self.fields["start_at"].input_formats

    def _within_range(self, name: str) -> dt.datetime:
        value = self.cleaned_data[name]
        if not EARLIEST_DATE <= value < LATEST_DATE:
            raise forms.ValidationError(
                _("Choose a date from %(earliest)d to %(latest)d."),
                code=ErrorCode.DATE_OUT_OF_RANGE,
                params={"earliest": EARLIEST_DATE.year, "latest": LATEST_DATE.year - 1},
            )
        return value

    def clean_start_at(self) -> dt.datetime:
        return self._within_range("start_at")

    def clean_end_at(self) -> dt.datetime:
        return self._within_range("end_at")

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start_at"), cleaned.get("end_at")
        if start and end:
            if end <= start:
                self.add_error(
                    "end_at",
                    forms.ValidationError(
                        _("The end must be after the start."), code=ErrorCode.END_BEFORE_START
                    ),
                )
            elif end <= timezone.now() and ("end_at" in self.changed_data or not self.instance.pk):
                self.add_error(
                    "end_at",
                    forms.ValidationError(_("The end is already in the past."), code=ErrorCode.END_IN_PAST),
                )
        return cleaned
