"""Account pages (R-AUTH-1..3, R-AUTH-8): thin adapters over accounts.services."""

from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse_lazy
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods
from wagtail.admin.views import account as wagtail_account

from . import roles, services
from .forms import (
    ConfirmEmailForm,
    DeleteAccountForm,
    EmailAuthenticationForm,
    EmailForm,
    PhoneCodeForm,
    PhoneForm,
    ProfileForm,
    SignUpForm,
    VerifyingSetPasswordForm,
)
from .models import AccountEmail, PhoneVerification
from .ratelimit import RateLimited
from .sms import SMSError
from .throttling import client_ip, remember_device
from .tokens import ExpiredToken, InvalidToken

# `services.signup_browser_proof` of the account this browser created: confirming it from here needs no
# password again.
SIGNED_UP_SESSION_KEY = "signed_up_email"


def too_many_requests(request: HttpRequest, exc: RateLimited) -> HttpResponse:
    """The page for a used-up limit (HTTP 429); the same whether or not the address has an account."""
    context = {"minutes": exc.retry_after_minutes}
    response = render(request, "accounts/too_many_requests.html", context, status=429)
    response["Retry-After"] = str(exc.retry_after)
    return response


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("web:home")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            proof = services.user_register(
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password1"],
                full_name=form.cleaned_data["full_name"],
                time_zone=form.cleaned_data["time_zone"],
                client_ip=client_ip(request),
            )
        except RateLimited as exc:
            return too_many_requests(request, exc)
        # This browser typed the new account's password: confirming from it asks for it no more (`verify`).
        if proof:
            request.session[SIGNED_UP_SESSION_KEY] = proof
        # The same page for a new and an already registered address: nothing tells who is registered.
        return render(request, "accounts/signup_done.html", {"email": form.cleaned_data["email"]})
    return render(request, "accounts/signup.html", {"form": form})


@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows the page and changes nothing (mail scanners follow links); POST sets the password and
    confirms."""
    try:
        user = services.verification_user(token=token)
    except ExpiredToken:
        return render(request, "accounts/verify.html", {"state": "expired"}, status=400)
    except InvalidToken:
        return render(request, "accounts/verify.html", {"state": "invalid"}, status=400)
    if user.email_verified:
        return render(request, "accounts/verify.html", {"state": "already", "email": user.email})
    # The browser that signed up with this address typed its password there: a button confirms. Any other
    # browser (the mailbox owner's, who may not be who signed up) sets the password, once.
    same_browser = constant_time_compare(
        request.session.get(SIGNED_UP_SESSION_KEY, ""), services.signup_browser_proof(user)
    )
    form = None if same_browser else ConfirmEmailForm(user, request.POST or None)
    if request.method == "POST" and (form is None or form.is_valid()):
        try:
            user, already = services.verify_email(
                token=token, password=form.cleaned_data["new_password1"] if form is not None else None
            )
        except InvalidToken:
            return render(request, "accounts/verify.html", {"state": "invalid"}, status=400)
        if already:
            return render(request, "accounts/verify.html", {"state": "already", "email": user.email})
        request.session.pop(SIGNED_UP_SESSION_KEY, None)
        # The link proved the mailbox and the password was chosen in this flow: no third typing to log in.
        auth_login(request, user, backend="backend.accounts.backends.EmailBackend")
        messages.success(request, _("%(email)s is confirmed. Welcome!") % {"email": user.email})
        return redirect("web:dashboard")
    return render(
        request,
        "accounts/verify.html",
        {"state": "confirm", "email": user.email, "form": form, "same_browser": same_browser},
    )


@require_http_methods(["GET", "POST"])
def resend(request: HttpRequest) -> HttpResponse:
    form = EmailForm(request.POST or None, initial={"email": request.GET.get("email", "")})
    if request.method == "POST" and form.is_valid():
        try:
            services.resend_verification(email=form.cleaned_data["email"], client_ip=client_ip(request))
        except RateLimited as exc:
            return too_many_requests(request, exc)
        messages.success(
            request,
            _("If %(email)s has an unconfirmed account, a new link is on its way.") % form.cleaned_data,
        )
        return redirect("accounts:login")
    return render(request, "accounts/resend.html", {"form": form})


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    form_class = EmailAuthenticationForm

    def get_default_redirect_url(self) -> str:
        """Without a `next`, owners land on their dashboard, managers on theirs;
        content editors, who have neither, on the home page."""
        if roles.has_owner_pages(self.request.user):
            return resolve_url("web:dashboard")
        if roles.has_manager_page(self.request.user):
            return resolve_url("web:manager")
        return super().get_default_redirect_url()


class QueuedPasswordResetMixin:
    """Counts the reset email against the account-email limits and queues it for the scheduler
    instead of sending it in the request: the same work for any address, so neither the page
    nor its timing tells whether the address has an account."""

    account_email_kind = AccountEmail.Kind.PASSWORD_RESET

    def form_valid(self, form):
        try:
            services.password_reset_request(
                email=form.cleaned_data["email"],
                client_ip=client_ip(self.request),
                kind=self.account_email_kind,
            )
        except RateLimited as exc:
            return too_many_requests(self.request, exc)
        return HttpResponseRedirect(self.get_success_url())


class CmsPasswordResetView(QueuedPasswordResetMixin, wagtail_account.PasswordResetView):
    """Wagtail's /cms/password_reset/, under the same limits and queue as ours; its email and link are
    Wagtail's own (accounts.emails)."""

    account_email_kind = AccountEmail.Kind.CMS_PASSWORD_RESET


class PasswordResetView(QueuedPasswordResetMixin, auth_views.PasswordResetView):
    template_name = "accounts/password_reset_form.html"
    success_url = reverse_lazy("accounts:password_reset_done")


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    form_class = VerifyingSetPasswordForm
    success_url = reverse_lazy("accounts:password_reset_complete")


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Your profile is saved."))
        return redirect("accounts:profile")
    return render(request, "accounts/profile.html", {"form": form})


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:profile")

    def form_valid(self, form):
        messages.success(self.request, _("Your password is changed."))
        response = super().form_valid(form)
        # The old device cookie is bound to the old password: this browser gets a fresh one.
        remember_device(self.request, form.user)
        return response


@login_required
@require_http_methods(["GET", "POST"])
def phone(request: HttpRequest) -> HttpResponse:
    pending = PhoneVerification.objects.filter(user=request.user).exclude(code_hash="").first()
    phone_form, code_form = PhoneForm(), PhoneCodeForm()
    if request.method == "POST" and "send" in request.POST:
        phone_form = PhoneForm(request.POST)
        if phone_form.is_valid():
            try:
                pending = services.phone_start(user=request.user, phone=phone_form.cleaned_data["phone"])
            except ValidationError as exc:
                phone_form.add_error(None, exc)
            except SMSError as exc:
                phone_form.add_error(None, str(exc))
            else:
                messages.info(request, _("We sent a 6-digit code to %(phone)s.") % {"phone": pending.phone})
                return redirect("accounts:phone")
    elif request.method == "POST" and "confirm" in request.POST:
        code_form = PhoneCodeForm(request.POST)
        if code_form.is_valid():
            try:
                services.phone_confirm(user=request.user, code=code_form.cleaned_data["code"])
            except ValidationError as exc:
                pending = PhoneVerification.objects.filter(user=request.user).exclude(code_hash="").first()
                if pending is None:  # expired or out of tries: the code is gone, say so above the form
                    messages.error(request, " ".join(exc.messages))
                    return redirect("accounts:phone")
                code_form.add_error("code", exc)
            else:
                messages.success(request, _("Your phone number is verified."))
                return redirect("accounts:profile")
    return render(
        request, "accounts/phone.html", {"phone_form": phone_form, "code_form": code_form, "pending": pending}
    )


@login_required
@require_http_methods(["GET", "POST"])
def delete_account(request: HttpRequest) -> HttpResponse:
    form = DeleteAccountForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = request.user
        try:
            services.account_delete(user=user, password=form.cleaned_data["password"])
        except ValidationError as exc:
            form.add_error("password", exc)
        else:
            logout(request)
            messages.success(request, _("Your account and all its data are deleted."))
            return redirect("web:home")
    return render(request, "accounts/delete.html", {"form": form})
