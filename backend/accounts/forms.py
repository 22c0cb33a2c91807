"""Account forms: sign-up, login, profile, phone, deletion."""

import zoneinfo

import phonenumbers
from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm, SetPasswordForm
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils.translation import gettext_lazy as _

from .backends import REFUSAL
from .errors import ErrorCode
from .models import User, default_time_zone
from .sms import check_country_allowed


class EmailAuthenticationForm(AuthenticationForm):
    """Login by email in any letter case; says why when the password is right but the login is refused."""

    username = forms.EmailField(
        label=_("Email"), widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )
    error_messages = {
        **AuthenticationForm.error_messages,
        # Django's text says both fields may be case-sensitive; the email is not.
        "invalid_login": _(
            "Please enter a correct email and password. The password is case-sensitive; the email is not."
        ),
        ErrorCode.UNVERIFIED: _(
            "Confirm your email address first: follow the link we sent you, or ask for a new one."
        ),
        ErrorCode.BLOCKED: _("Your account is blocked. Contact the service's managers."),
    }

    def clean(self):
        try:
            return super().clean()
        except forms.ValidationError:
            # The backend checked the password once (a dummy hash for an unknown address, none at all when
            # the throttling refused first) and left the reason a right password was refused.
            refusal = getattr(self.request, REFUSAL, None)
            if refusal is not None:
                raise forms.ValidationError(self.error_messages[refusal], code=refusal) from None
            raise


def _time_zone_choices() -> list[tuple[str, str]]:
    return [(name, name.replace("_", " ")) for name in sorted(zoneinfo.available_timezones())]


class PasswordInput(forms.PasswordInput):
    """A password box that gets a "show" switch beside it (static/js/password-toggle.js): typed once,
    checked by eye instead of by typing it again. The switch's words come from here, in the page's
    language."""

    def __init__(self, attrs: dict | None = None) -> None:
        super().__init__(
            attrs={
                "data-password-toggle": "",
                "data-show-label": _("Show"),
                "data-hide-label": _("Hide"),
                **(attrs or {}),
            }
        )


class SignUpForm(forms.Form):
    """Sign-up (R-AUTH-1): the password is typed once, and the time zone is the browser's, shown to confirm
    (R-OWN-3 of the first hour: the whole sign-up and confirmation asks for the password twice at most)."""

    # 254: the longest address an account can have (and the outbox stores).
    email = forms.EmailField(
        label=_("Email"), max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    full_name = forms.CharField(label=_("Full name"), max_length=150, required=False)
    password1 = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    time_zone = forms.ChoiceField(
        label=_("Time zone"),
        choices=_time_zone_choices,
        required=False,
        help_text=_(
            "Your browser's, when it tells; mailings and reports show times in it. You can change it later."
        ),
        widget=forms.Select(attrs={"data-browser-time-zone": ""}),
    )

    def clean_time_zone(self) -> str:
        return self.cleaned_data.get("time_zone") or default_time_zone()

    def clean(self):
        cleaned = super().clean()
        password = cleaned.get("password1")
        if password and cleaned.get("email"):
            candidate = User(email=cleaned["email"], first_name=cleaned.get("full_name", ""))
            try:
                password_validation.validate_password(password, candidate)
            except forms.ValidationError as exc:
                self.add_error("password1", exc)
        return cleaned


class EmailForm(forms.Form):
    email = forms.EmailField(label=_("Email"), max_length=254)


class ProfileForm(forms.ModelForm):
    time_zone = forms.ChoiceField(label=_("Time zone"), choices=_time_zone_choices)

    class Meta:
        model = User
        fields = ["first_name", "last_name", "time_zone"]


class PhoneForm(forms.Form):
    phone = forms.CharField(
        label=_("Phone number"),
        max_length=32,
        help_text=_("International format with the country code, e.g. +79161234567."),
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
    )

    def clean_phone(self) -> str:
        raw = self.cleaned_data["phone"]
        try:
            number = phonenumbers.parse(raw, None)
        except phonenumbers.NumberParseException:
            number = None
        if number is None or not phonenumbers.is_valid_number(number):
            raise forms.ValidationError(
                _("Enter a valid phone number with its country code, e.g. +79161234567."),
                code=ErrorCode.INVALID_PHONE,
            )
        phone = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        check_country_allowed(phone)
        return phone


class PhoneCodeForm(forms.Form):
    code = forms.RegexField(
        label=_("Code from the SMS"),
        regex=r"^\s*\d{6}\s*$",
        error_messages={"invalid": _("The code is 6 digits.")},
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class DeleteAccountForm(forms.Form):
    password = forms.CharField(
        label=_("Your password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    confirm = forms.BooleanField(
        label=_("I understand that my clients, messages, mailings and their logs are deleted for good.")
    )


class ComposingPasswordResetForm(PasswordResetForm):
    """Django's reset form run by the scheduler: it decides who gets a link and renders the
    messages, which the outbox then sends; a request never sends (accounts.emails)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.messages: list[EmailMultiAlternatives] = []

    def send_mail(
        self,
        subject_template_name,
        email_template_name,
        context,
        from_email,
        to_email,
        html_email_template_name=None,
    ) -> None:
        subject = "".join(render_to_string(subject_template_name, context).splitlines())
        body = render_to_string(email_template_name, context)
        message = EmailMultiAlternatives(subject, body, from_email, [to_email])
        if html_email_template_name is not None:
            message.attach_alternative(render_to_string(html_email_template_name, context), "text/html")
        self.messages.append(message)


class ConfirmEmailForm(forms.Form):
    """Confirming an address from another browser than the one that signed up sets the account's password:
    whoever signed up with it may not own the mailbox, so the password chosen at sign-up is not trusted.
    Typed once, with the "show" switch."""

    new_password1 = forms.CharField(
        label=_("New password"),
        strip=False,
        widget=PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )

    def __init__(self, user: User, *args, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_new_password1(self) -> str:
        password = self.cleaned_data["new_password1"]
        password_validation.validate_password(password, self.user)
        return password


class VerifyingSetPasswordForm(SetPasswordForm):
    """Setting a password through an emailed link also proves the address."""

    def save(self, commit: bool = True):
        self.user.email_verified = True
        return super().save(commit=commit)


class BlockReasonForm(forms.Form):
    """Why a manager blocks a user (R-AUTH-5): asked by the admin's block action and GraphQL's blockUser."""

    reason = forms.CharField(
        label=_("Reason"),
        max_length=User._meta.get_field("blocked_reason").max_length,
        help_text=_("Kept with the block; the user's managers and superusers see it."),
    )


class SendQuotaForm(forms.Form):
    """A manager's change of a user's daily sending quota (R-DLV-5): a number, or empty for the default.
    Asked by GraphQL's setSendQuota (the manager dashboard)."""

    quota = forms.IntegerField(
        label=_("Daily sending quota"),
        required=False,
        min_value=0,
        max_value=100_000_000,
        help_text=_("Messages per day; 0 for no limit; empty for the default."),
    )
    reason = forms.CharField(label=_("Reason"), required=False, max_length=1000)
