"""The one validation for clients, messages and mailings: pages render these forms, GraphQL mutations and
the services run them. Every form takes its owner; every choice is limited to that owner's objects."""

import datetime as dt

from django import forms
from django.db.models import F, IntegerField, Q, QuerySet, Value
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from backend.accounts.models import User

from . import bulk, domainkeys, personalize, selectors
from .compose import UnsafeRecipient, one_line, wire_address
from .errors import ErrorCode
from .filters import ClientFilter
from .models import Client, Mailing, Message, SenderDomain, SenderIdentity, SignupForm, Tag


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


def name_from_email(email: str) -> str:
    """The full name of a client given none: the part of the address before the @ (the one rule of the
    form, the API and the import)."""
    return email.rpartition("@")[0][: Client._meta.get_field("full_name").max_length]


class ClientForm(OwnedModelForm):
    # An address erased at the person's request (R-ENG-4) is added again only when the owner says so; the
    # service then deletes what was left of it (its hash), and the person is a client like any other.
    readd = forms.BooleanField(
        label=_("The person asked to be added again"),
        required=False,
        help_text=_("Only for an address erased at the person's request: tick it when they asked to return."),
    )

    class Meta:
        model = Client
        fields = ["email", "full_name", "comment"]
        widgets = {"comment": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, owner: User, **kwargs):
        super().__init__(*args, owner=owner, **kwargs)
        name = self.fields["full_name"]
        name.required = False
        name.help_text = _("Optional: without one, the part of the address before the @ is used.")
        # Offered on the page only once the typed address turned out to be an erased one.
        typed = str(self.data.get("email") or "") if self.is_bound else ""
        if not (typed.strip() and selectors.is_suppressed(owner.pk, typed)):
            self.fields["readd"].widget = forms.HiddenInput()

    def clean(self) -> dict:
        cleaned = super().clean()
        if not cleaned.get("full_name") and cleaned.get("email"):
            cleaned["full_name"] = name_from_email(cleaned["email"])
        email = cleaned.get("email")
        unchanged = self.instance.pk and email and email.lower() == (self.instance.email or "").lower()
        readd = cleaned.get("readd")
        if email and not unchanged and not readd and selectors.is_suppressed(self.owner.pk, email):
            self.add_error(
                "email",
                forms.ValidationError(
                    _(
                        "This address was erased from your list at the person's request. Add it only if "
                        "they asked to be added again, and tick “The person asked to be added again”."
                    ),
                    code=ErrorCode.ERASED,
                ),
            )
        return cleaned

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


class KeptCheckboxInput(forms.CheckboxInput):
    """A checkbox preceded by a hidden "false" of the same name: a page that shows it always sends the
    field (ticked, the checkbox's value comes last and wins), so the form can tell "unticked" from "not
    sent" (an API call or an admin form without the field), which keeps the saved value."""

    def render(self, name, value, attrs=None, renderer=None):
        hidden = f'<input type="hidden" name="{name}" value="false">'
        return mark_safe(hidden + super().render(name, value, attrs, renderer))  # noqa: S308 - our markup

    def value_from_datadict(self, data, files, name):
        values = data.getlist(name) if hasattr(data, "getlist") else [data.get(name)]
        value = values[-1] if values else None
        if isinstance(value, str):
            return value.lower() not in ("", "false", "0", "off")
        return bool(value)


class TagForm(OwnedModelForm):
    # Declared (not the model's field): its only outcome is true or false, whatever is sent.
    is_public = forms.BooleanField(
        label=_("public"),
        required=False,
        widget=KeptCheckboxInput,
        help_text=_("Clients see it on their preferences page and may change it."),
    )

    class Meta:
        model = Tag
        fields = ["name", "is_public"]

    def clean_is_public(self) -> bool:
        # Left out (the API's rename, the admin's form): the tag stays public or private as it was.
        if "is_public" not in self.data:
            return self.instance.is_public
        return self.cleaned_data["is_public"]

    def clean_name(self) -> str:
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise forms.ValidationError(_("Give the tag a name."), code=ErrorCode.INVALID)
        if "," in name:
            # A clients file lists a client's tags comma-separated in one cell.
            raise forms.ValidationError(_("A tag's name cannot contain a comma."), code=ErrorCode.INVALID)
        # iexact (UPPER on PostgreSQL, Unicode-aware on SQLite through db.py) and the unique constraint's
        # own LOWER: the few letters whose two foldings differ (the Kelvin sign) are caught by either.
        others = Tag.objects.alias(lowered=Lower("name")).filter(
            Q(name__iexact=name) | Q(lowered=Lower(Value(name))), owner=self.owner
        )
        if self.instance.pk:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            raise forms.ValidationError(
                _("You already have a tag with this name."), code=ErrorCode.DUPLICATE_TAG
            )
        return name


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


def _sendable_address(value: str, field: str) -> str:
    """An address as it goes on the wire (its domain lower-case, in IDNA), or the form's error."""
    local, _at, domain = value.strip().rpartition("@")
    try:
        return wire_address(f"{local}@{domain.lower()}")
    except UnsafeRecipient:
        raise forms.ValidationError(
            _("This address cannot be used in a mail's %(field)s header."),
            code=ErrorCode.INVALID,
            params={"field": field},
        ) from None


class SenderIdentityForm(OwnedModelForm):
    """Who an owner's mail comes from (R-DLV-1). Changing the address of a confirmed identity makes it
    unconfirmed again (the service's rule, services/senders.py)."""

    class Meta:
        model = SenderIdentity
        fields = ["from_name", "from_email", "reply_to"]
        help_texts = {
            "from_name": _("What recipients see as the sender, e.g. your shop's name."),
            "from_email": _("A confirmation link is sent to it; mail goes out from it once it is followed."),
            "reply_to": _("Optional: where replies go, if not to the From address."),
        }

    def clean_from_name(self) -> str:
        name = self.cleaned_data["from_name"]
        if one_line(name) != name:
            raise forms.ValidationError(_("The name must be a single line."), code=ErrorCode.INVALID)
        name = " ".join(name.split())
        if not name:
            raise forms.ValidationError(_("Give the sender a name."), code=ErrorCode.REQUIRED)
        return name

    def clean_from_email(self) -> str:
        email = _sendable_address(self.cleaned_data["from_email"], "From")
        others = SenderIdentity.objects.filter(owner=self.owner, from_email__iexact=email)
        if self.instance.pk:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            raise forms.ValidationError(
                _("You already have a sender with this address."), code=ErrorCode.DUPLICATE_SENDER
            )
        return email

    def clean_reply_to(self) -> str:
        value = self.cleaned_data.get("reply_to", "")
        return _sendable_address(value, "Reply-To") if value else ""


class SenderDomainForm(OwnedModelForm):
    """A domain the owner sends from (R-DLV-2); the service generates its key pair and selector."""

    class Meta:
        model = SenderDomain
        fields = ["domain", "algorithm"]
        help_texts = {
            "domain": _(
                "e.g. example.com: every address at it becomes usable once its DKIM record is found."
            ),
            "algorithm": _("RSA-2048 is understood by every receiver; Ed25519 is shorter but newer."),
        }

    def __init__(self, *args, owner: User, **kwargs):
        super().__init__(*args, owner=owner, **kwargs)
        if "algorithm" in self.fields:
            self.fields["algorithm"].required = False

    def clean_algorithm(self) -> str:
        return self.cleaned_data.get("algorithm") or SenderDomain.Algorithm.RSA

    def clean_domain(self) -> str:
        try:
            domain = domainkeys.normalise_domain(self.cleaned_data["domain"])
        except domainkeys.InvalidDomain:
            raise forms.ValidationError(
                _("Enter a domain name such as example.com."), code=ErrorCode.INVALID_DOMAIN
            ) from None
        others = SenderDomain.objects.filter(owner=self.owner, domain=domain)
        if self.instance.pk:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            raise forms.ValidationError(_("You already added this domain."), code=ErrorCode.DUPLICATE_DOMAIN)
        return domain


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


class IdListInput(forms.TextInput):
    """Client ids as text ("12, 15 19") or as repeated values (a page's hidden inputs, an API's list). Never
    filled from a mailing's chosen clients: a form that showed them all would load 100,000 rows."""

    def format_value(self, value):
        if isinstance(value, (list, tuple)):
            return ", ".join(str(getattr(item, "pk", item)) for item in value)
        return super().format_value(value)

    def value_from_datadict(self, data, files, name):
        values = data.getlist(name) if hasattr(data, "getlist") else data.get(name)
        if values is None:
            return None
        if isinstance(values, str):
            values = [values]
        return [part for value in values for part in str(value).replace(",", " ").split()]

    def value_omitted_from_data(self, data, files, name):
        return name not in data


# How long after its send time a one-off mailing left without an end may still start (a scheduler that was
# down catches up within it).
ONE_OFF_WINDOW = dt.timedelta(days=1)


class MailingForm(OwnedModelForm):
    """A mailing's message, schedule and audience (R-AUD-1). The chosen clients — used when the audience is
    "chosen clients" — come as a whole list (`clients`, the API's `clientIds`, for small picks), or as
    changes to what the mailing has (`clients_added`, `clients_removed`, and `clients_matching`: every
    client matching a search), so a page never sends or renders a list of 100,000 ids."""

    # Not a model field of the form: a ModelForm reads a many-to-many field's current value on every build
    # (`model_to_dict`), which for a mailing to 100,000 clients means loading them all. Written by `save`.
    clients = ChoicesField(
        queryset=Client.objects.none(),
        required=False,
        widget=IdListInput,
        label=_("Chosen clients"),
        help_text=_("Client ids; replaces the chosen clients."),
    )
    clients_added = ChoicesField(
        queryset=Client.objects.none(), required=False, widget=IdListInput, label=_("Add clients")
    )
    clients_removed = ChoicesField(
        queryset=Client.objects.none(), required=False, widget=IdListInput, label=_("Remove clients")
    )
    clients_matching = forms.CharField(
        required=False,
        max_length=200,
        label=_("Add every client matching"),
        help_text=_("Part of the email or the name, as in the clients list's search."),
    )

    class Meta:
        model = Mailing
        fields = [
            "name",
            "message",
            "sender",
            "audience",
            "tags",
            "tag_match",
            "start_at",
            "end_at",
            "periodicity",
            "tracking",
        ]
        field_classes = {"tags": ChoicesField}
        widgets = {
            "start_at": DateTimeInput(),
            "end_at": DateTimeInput(),
            "audience": forms.RadioSelect,
            "tag_match": forms.RadioSelect,
            "tags": forms.CheckboxSelectMultiple,
        }
        help_texts = {
            "sender": _(
                "One of your confirmed senders. Without one, or once it is revoked, mail goes from the "
                "service's address with your name, and replies come to you."
            ),
            "start_at": _("In your time zone. The first occurrence; a start in the past sends at once."),
            "end_at": _(
                "In your time zone. No occurrence at or after this moment. Not needed for a one-off mailing: "
                "it is sent at its start, or within a day after it if the service was down."
            ),
            "name": _("Shown in your lists and reports; the message's subject when left empty."),
        }

    # The page's form says it showed the tracking box: an unchecked box sends nothing at all.
    TRACKING_SHOWN = "tracking_shown"

    def clean_tracking(self) -> bool:
        """Data that never had the box (a script, the seed command) keeps what the mailing has (on for a new
        one); a form that showed it means what it sends."""
        if "tracking" not in self.data and self.TRACKING_SHOWN not in self.data:
            return self.instance.tracking
        return self.cleaned_data["tracking"]

    def __init__(self, *args, owner: User, **kwargs):
        super().__init__(*args, owner=owner, **kwargs)
        # Another owner's message, tags or clients are not even valid choices ("Select a valid choice").
        # (A form built with fewer fields, as the admin builds it, skips those it lacks.)
        choices = {
            "message": Message.objects.filter(owner=owner),
            # Only the usable ones (R-DLV-1): another owner's, a revoked or an unconfirmed one is no choice.
            "sender": selectors.usable_senders(owner),
            "tags": Tag.objects.filter(owner=owner),
            "clients": Client.objects.filter(owner=owner),
            "clients_added": Client.objects.filter(owner=owner),
            "clients_removed": Client.objects.filter(owner=owner),
        }
        for name, queryset in choices.items():
            if name in self.fields:
                self.fields[name].queryset = queryset
        # A sender chosen before and revoked or unconfirmed since: the page says mail falls back.
        self.unusable_sender = None
        if self.instance.sender_id and not choices["sender"].filter(pk=self.instance.sender_id).exists():
            self.unusable_sender = self.instance.sender
        if "sender" in self.fields:
            self.fields["sender"].empty_label = _("The service's address, with your name")
            self.fields["sender"].error_messages["invalid_choice"] = _(
                "Choose one of your confirmed senders; this one is unconfirmed, revoked or not yours."
            )
        # Left out, they keep what the mailing has: for a new one, chosen clients matched by any tag (an
        # API call that names only `clientIds` means what it meant before audiences).
        for name in ("audience", "tag_match", "name", "end_at"):
            if name in self.fields:
                self.fields[name].required = False
        self.fields["start_at"].input_formats = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
        self.fields["end_at"].input_formats = self.fields["start_at"].input_formats
        if not self.instance.pk:
            self.initial.setdefault("audience", Mailing.Audience.EVERYONE)
        # Written by `save` from the changes (`clients_added`...); the whole list only when it was sent.
        self.replaces_clients = self.is_bound and "clients" in self.data

    def _within_range(self, name: str) -> dt.datetime:
        value = self.cleaned_data[name]
        if not EARLIEST_DATE <= value < LATEST_DATE:
            raise forms.ValidationError(
                _("Choose a date from %(earliest)d to %(latest)d."),
                code=ErrorCode.DATE_OUT_OF_RANGE,
                params={"earliest": EARLIEST_DATE.year, "latest": LATEST_DATE.year - 1},
            )
        return value

    def clean_audience(self) -> str:
        return self.cleaned_data.get("audience") or self.instance.audience

    def clean_tag_match(self) -> str:
        return self.cleaned_data.get("tag_match") or self.instance.tag_match

    def clean_start_at(self) -> dt.datetime:
        return self._within_range("start_at")

    def clean_end_at(self) -> dt.datetime | None:
        if self.cleaned_data.get("end_at") is None:
            return None
        return self._within_range("end_at")

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("name") and cleaned.get("message"):
            cleaned["name"] = cleaned["message"].subject
            self.instance.name = cleaned["name"]
        start, end = cleaned.get("start_at"), cleaned.get("end_at")
        if start and end is None and "end_at" not in self.errors:
            if cleaned.get("periodicity") == Mailing.Periodicity.ONCE:
                # R-OWN-2: a one-off needs only its send time; it may still start within a day after it.
                end = cleaned["end_at"] = max(start, timezone.now()) + ONE_OFF_WINDOW
                self.instance.end_at = end
            elif "periodicity" not in self.errors:
                self.add_error(
                    "end_at",
                    forms.ValidationError(_("A repeating mailing needs an end."), code=ErrorCode.REQUIRED),
                )
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
        audience = cleaned.get("audience")
        if audience == Mailing.Audience.TAGS and "tags" not in self.errors and not cleaned.get("tags"):
            self.add_error(
                "tags", forms.ValidationError(_("Choose at least one tag."), code=ErrorCode.REQUIRED)
            )
        if (
            audience == Mailing.Audience.CLIENTS
            and not self.errors.keys() & {"clients", "clients_added", "clients_removed"}
            and not self._has_chosen_clients(cleaned)
        ):
            self.add_error(
                "clients", forms.ValidationError(_("Choose at least one client."), code=ErrorCode.REQUIRED)
            )
        return cleaned

    def _matching(self, search: str) -> QuerySet[Client]:
        return ClientFilter({"search": search}, queryset=Client.objects.filter(owner=self.owner)).qs

    def _has_chosen_clients(self, cleaned: dict) -> bool:
        """Whether the mailing would have any chosen client after this edit (an existence check, not a
        count: the mailing may have 100,000)."""
        if cleaned.get("clients_added") or (
            cleaned.get("clients_matching") and self._matching(cleaned["clients_matching"]).exists()
        ):
            return True
        if self.replaces_clients:
            return bool(cleaned.get("clients"))
        if not self.instance.pk:
            return False
        removed = [client.pk for client in cleaned.get("clients_removed") or ()]
        return self.instance.clients.exclude(pk__in=removed).exists()

    def _save_m2m(self) -> None:
        mailing, chosen = self.instance, Mailing.clients.through
        if "tags" in self.cleaned_data:
            mailing.tags.set(self.cleaned_data["tags"])
        if self.replaces_clients:
            mailing.clients.set(self.cleaned_data.get("clients") or [])
        removed = self.cleaned_data.get("clients_removed") or []
        if removed:
            chosen.objects.filter(mailing=mailing, client__in=[client.pk for client in removed]).delete()
        added = self.cleaned_data.get("clients_added") or []
        if added:
            chosen.objects.bulk_create(
                [chosen(mailing=mailing, client=client) for client in added], ignore_conflicts=True
            )
        search = self.cleaned_data.get("clients_matching")
        if search:
            bulk.insert_from(
                chosen,
                {"mailing": Value(mailing.pk, output_field=IntegerField()), "client": F("pk")},
                self._matching(search),
            )


# Longest texts a sign-up form shows: each is on the public page, and the consent text is recorded with every
# confirmed subscription.
SIGNUP_TEXT_MAX = 2000


class SignupFormForm(OwnedModelForm):
    """An owner's public sign-up form (R-ENG-1): what the page says, the tags a subscriber gets, who the
    confirmation mail is from."""

    class Meta:
        model = SignupForm
        fields = [
            "name",
            "title",
            "description",
            "consent_text",
            "thank_you_text",
            "tags",
            "sender",
            "is_active",
        ]
        field_classes = {"tags": ChoicesField}
        widgets = {
            "description": forms.Textarea(attrs={"rows": 3}),
            "consent_text": forms.Textarea(attrs={"rows": 3}),
            "thank_you_text": forms.Textarea(attrs={"rows": 3}),
            "tags": forms.CheckboxSelectMultiple,
        }
        help_texts = {
            "tags": _("A confirmed subscriber gets these tags."),
            "sender": _(
                "Who the confirmation mail comes from: one of your confirmed senders, or the service's "
                "address with your name."
            ),
        }

    def __init__(self, *args, owner: User, **kwargs):
        super().__init__(*args, owner=owner, **kwargs)
        if "tags" in self.fields:
            self.fields["tags"].queryset = Tag.objects.filter(owner=owner).order_by("name", "pk")
        if "sender" in self.fields:
            self.fields["sender"].queryset = selectors.usable_senders(owner)
            self.fields["sender"].empty_label = _("The service's address, with your name")
        if not self.instance.pk:
            self.initial.setdefault(
                "consent_text",
                _("I agree to receive newsletters by email. I can unsubscribe at any time."),
            )
            self.initial.setdefault("thank_you_text", _("Thank you: your subscription is confirmed."))

    def _text(self, name: str) -> str:
        value = self.cleaned_data.get(name, "").strip()
        if len(value) > SIGNUP_TEXT_MAX:
            raise forms.ValidationError(
                _("At most %(count)d characters."), code=ErrorCode.INVALID, params={"count": SIGNUP_TEXT_MAX}
            )
        return value

    def clean_name(self) -> str:
        return " ".join(self.cleaned_data["name"].split())

    def clean_title(self) -> str:
        title = " ".join(self.cleaned_data["title"].split())
        if not title:
            raise forms.ValidationError(_("Give the form a heading."), code=ErrorCode.REQUIRED)
        return title

    def clean_description(self) -> str:
        return self._text("description")

    def clean_consent_text(self) -> str:
        value = self._text("consent_text")
        if not value:
            raise forms.ValidationError(_("Say what the visitor agrees to."), code=ErrorCode.REQUIRED)
        return value

    def clean_thank_you_text(self) -> str:
        value = self._text("thank_you_text")
        if not value:
            raise forms.ValidationError(_("Say something after the confirmation."), code=ErrorCode.REQUIRED)
        return value


class SubscribeForm(forms.Form):
    """What a visitor sends from a public sign-up form (R-ENG-1): an address, an optional name, and the
    honeypot `website`, which people never see and bots fill in."""

    email = forms.EmailField(label=_("Email"), max_length=254)
    full_name = forms.CharField(label=_("Name (optional)"), max_length=200, required=False)
    website = forms.CharField(required=False, max_length=500)

    def clean_email(self) -> str:
        # Kept as the clients form keeps it (the domain lower-cased, not in IDNA), so the same address typed
        # on either finds the same client; it must also be one a mail can be sent to.
        email = User.objects.normalize_email(self.cleaned_data["email"]).strip()
        try:
            _sendable_address(email, "To")
        except forms.ValidationError:
            raise forms.ValidationError(_("Enter a valid email address."), code=ErrorCode.INVALID) from None
        return email

    def clean_full_name(self) -> str:
        return " ".join(one_line(self.cleaned_data.get("full_name", "")).split())

    @property
    def is_bot(self) -> bool:
        return bool(self.data.get("website"))
