"""Django admin for superusers: a thin adapter like the pages and the API.

Clients, messages and mailings are edited with the DOMAIN forms and saved, disabled and deleted through the
services, so every rule and every message is the domain's. Creating asks first for whose list the object
goes into (a superuser works on anyone's behalf); the domain form is then built for that owner. The delivery
log is read-only.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.admin.widgets import AutocompleteSelect, RelatedFieldWidgetWrapper
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from backend.accounts.models import User
from backend.accounts.ratelimit import RateLimited
from backend.admin_site import DeletesItsLogMixin, ReadOnlyAdmin

from . import selectors, services
from .forms import (
    ClientForm,
    MailingForm,
    MessageForm,
    OwnedModelForm,
    SenderDomainForm,
    SenderIdentityForm,
    SignupFormForm,
    TagForm,
)
from .models import (
    Bounce,
    Client,
    Consent,
    Delivery,
    DeliveryAttempt,
    Mailing,
    Message,
    Occurrence,
    SenderDomain,
    SenderIdentity,
    SignupForm,
    Tag,
    Unsubscription,
)


class OwnerChoiceForm(forms.Form):
    owner = forms.ModelChoiceField(
        label=_("Owner"),
        queryset=User.objects.order_by("email"),
        help_text=_("The user whose list the new object goes into."),
    )

    def __init__(self, *args, admin_site: admin.AdminSite, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["owner"]
        field.widget = AutocompleteSelect(Client._meta.get_field("owner"), admin_site)
        field.widget.choices = field.choices


class OwnedAdmin(DeletesItsLogMixin, admin.ModelAdmin):
    """The domain form validates, the service saves. The owner is never a form field: on "add" it comes
    from `?owner=<id>` (asked for on an intermediate page), on "change" it is the object's."""

    form: type[OwnedModelForm]

    def __init__(self, model, admin_site):
        super().__init__(model, admin_site)
        # The admin's split date/time field posts two values; the service re-reads the post with the domain
        # form, which takes one (its datetime-local input).
        self.formfield_overrides.pop(models.DateTimeField, None)

    def _create(self, request: HttpRequest, owner: User, form: forms.ModelForm):
        raise NotImplementedError

    def _update(self, request: HttpRequest, obj, form: forms.ModelForm):
        raise NotImplementedError

    def _delete(self, request: HttpRequest, obj) -> None:
        raise NotImplementedError

    def _chosen_owner(self, request: HttpRequest) -> User | None:
        form = OwnerChoiceForm(request.GET, admin_site=self.admin_site)
        return form.cleaned_data["owner"] if form.is_valid() else None

    def _new_instance(self, owner: User):
        return self.model(owner=owner)

    def get_form(self, request, obj=None, change=False, **kwargs):
        owner = obj.owner if obj is not None else self._chosen_owner(request)
        new_instance = self._new_instance

        # The admin builds its form with no hook for extra arguments (ModelAdmin has get_formset_kwargs for
        # inlines only), so the domain form gets its owner from a subclass made for this request.
        class OwnerForm(super().get_form(request, obj, change=change, **kwargs)):
            def __init__(self, *args, **form_kwargs):
                if form_kwargs.get("instance") is None:
                    # The new object already shows whose it is (the read-only "owner" on the page).
                    form_kwargs["instance"] = new_instance(owner)
                super().__init__(*args, owner=owner, **form_kwargs)

        for field in OwnerForm.base_fields.values():
            # No "+" popups: a new message or client goes through its own add page (owner first).
            if isinstance(field.widget, RelatedFieldWidgetWrapper):
                field.widget.can_add_related = False
        return OwnerForm

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if object_id is None:
            owner = self._chosen_owner(request)
            if owner is None:
                return self._owner_choice_view(request)
            extra_context = {
                "subtitle": gettext("For %(owner)s") % {"owner": owner.email},
                **(extra_context or {}),
            }
        else:
            obj = self.get_object(request, unquote(object_id))
            owner = obj.owner if obj is not None else request.user
        # The domain form reads date-times in the owner's zone; the page shows them (and compares them, for
        # "changed") in the same zone, whoever the superuser is.
        with timezone.override(owner.tz):
            response = super().changeform_view(request, object_id, form_url, extra_context)
            if isinstance(response, TemplateResponse):
                response.render()
        return response

    def _owner_choice_view(self, request: HttpRequest) -> HttpResponse:
        if "owner" in request.GET:
            form = OwnerChoiceForm(request.GET, admin_site=self.admin_site)
        else:
            form = OwnerChoiceForm(initial={"owner": request.user.pk}, admin_site=self.admin_site)
        opts = self.model._meta
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Add %(name)s") % {"name": opts.verbose_name},
            "opts": opts,
            "form": form,
            "media": self.media + form.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/owner_choice.html", context)

    # The service saves; the admin's own save steps are replaced, not added to.
    def save_form(self, request, form, change):
        if change:
            # form.instance was already changed in memory by the admin form: the service starts from the row.
            return self._update(request, self.model._default_manager.get(pk=form.instance.pk), form)
        return self._create(request, form.owner, form)

    def save_model(self, request, obj, form, change):
        pass

    def save_related(self, request, form, formsets, change):
        pass

    def delete_model(self, request, obj):
        self._delete(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self._delete(request, obj)


@admin.register(Client)
class ClientAdmin(OwnedAdmin):
    form = ClientForm
    fields = [
        "owner",
        "email",
        "full_name",
        "comment",
        "readd",
        "created_at",
        "unsubscribed_at",
        "unsubscribe_token",
    ]
    readonly_fields = ["owner", "created_at", "unsubscribed_at", "unsubscribe_token"]
    list_display = ["email", "full_name", "owner", "created_at", "unsubscribed_at"]
    actions = ["erase"]
    list_filter = [("unsubscribed_at", admin.EmptyFieldListFilter), "created_at"]
    search_fields = ["email", "full_name", "owner__email"]
    list_select_related = ["owner"]

    def get_fields(self, request, obj=None):
        # A new client has no token yet: the model's default would show a new random one on every render.
        fields = super().get_fields(request, obj)
        if obj is None:
            return [name for name in fields if name not in {"created_at", "unsubscribe_token"}]
        return fields

    def _create(self, request, owner, form):
        return services.client_create(actor=request.user, owner=owner, data=form.data)

    def _update(self, request, obj, form):
        return services.client_update(actor=request.user, client=obj, data=form.data)

    def _delete(self, request, obj):
        services.client_delete(actor=request.user, client=obj)

    @admin.action(description=_("Erase at the person's request (keeps only a hash of the address)"))
    def erase(self, request: HttpRequest, queryset: QuerySet[Client]) -> None:
        """R-ENG-4 through the service, one client at a time (each its own transaction)."""
        erased = 0
        for client in queryset.order_by("pk"):
            try:
                services.client_erase(actor=request.user, client=client)
            except Client.DoesNotExist:
                continue  # erased meanwhile
            erased += 1
        self.message_user(
            request,
            ngettext(
                "%(count)d client erased; only a hash of the address is kept.",
                "%(count)d clients erased; only hashes of their addresses are kept.",
                erased,
            )
            % {"count": erased},
            messages.SUCCESS,
        )


@admin.register(Tag)
class TagAdmin(OwnedAdmin):
    form = TagForm
    fields = ["owner", "name", "is_public", "created_at"]
    readonly_fields = ["owner", "created_at"]
    list_display = ["name", "owner", "is_public", "created_at"]
    search_fields = ["name", "owner__email"]
    list_select_related = ["owner"]

    def _create(self, request, owner, form):
        return services.tag_create(actor=request.user, owner=owner, data=form.data)

    def _update(self, request, obj, form):
        return services.tag_update(actor=request.user, tag=obj, data=form.data)

    def _delete(self, request, obj):
        services.tag_delete(actor=request.user, tag=obj)


@admin.register(Message)
class MessageAdmin(OwnedAdmin):
    form = MessageForm
    fields = ["owner", "subject", "body", "html_body", "created_at", "updated_at"]
    readonly_fields = ["owner", "created_at", "updated_at"]
    list_display = ["subject", "owner", "updated_at"]
    search_fields = ["subject", "body", "owner__email"]
    list_select_related = ["owner"]

    def _create(self, request, owner, form):
        return services.message_create(actor=request.user, owner=owner, data=form.data)

    def _update(self, request, obj, form):
        return services.message_update(actor=request.user, message=obj, data=form.data)

    def _delete(self, request, obj):
        services.message_delete(actor=request.user, message=obj)


@admin.register(Mailing)
class MailingAdmin(OwnedAdmin):
    form = MailingForm
    fields = [
        "owner",
        "name",
        "message",
        "sender",
        "audience",
        "tags",
        "tag_match",
        "chosen_clients",
        "clients_added",
        "clients_removed",
        "clients_matching",
        "start_at",
        "end_at",
        "periodicity",
        "time_zone",
        "is_active",
        "paused_at",
        "status",
        "next_run_at",
        "upcoming_occurrences",
        "disabled_at",
        "disabled_by",
        "created_at",
    ]
    readonly_fields = [
        "owner",
        "chosen_clients",
        "time_zone",
        "paused_at",
        "status",
        "next_run_at",
        "upcoming_occurrences",
        "disabled_at",
        "disabled_by",
        "created_at",
    ]
    list_display = [
        "id",
        "name",
        "message",
        "owner",
        "periodicity",
        "status",
        "is_active",
        "start_at",
        "end_at",
        "next_run_at",
    ]
    list_filter = ["status", "periodicity", "is_active", "audience"]
    search_fields = ["name", "message__subject", "owner__email"]

    @admin.display(description=_("chosen clients"))
    def chosen_clients(self, obj: Mailing) -> str:
        """How many, and who receives the next send: the chosen clients change through ids or a search, never
        a list of all of them (a select of a 1,000,000-client list would not load)."""
        if obj is None or obj.pk is None:
            return "—"
        return _("%(chosen)d chosen; the next send goes to %(size)d") % {
            "chosen": obj.clients.count(),
            "size": selectors.audience_size(obj),
        }

    list_select_related = ["message", "owner"]

    def _new_instance(self, owner):
        return Mailing(owner=owner, time_zone=owner.time_zone)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change=change, **kwargs)
        # The domain's help says "your time zone"; here the superuser edits someone else's mailing.
        for name in ("start_at", "end_at"):
            if name in form_class.base_fields:
                form_class.base_fields[name].help_text = _("In the owner's time zone.")
        if "is_active" in form_class.base_fields:
            form_class.base_fields["is_active"].help_text = _(
                "Unticking disables the mailing: it records who and when, and drops what was still waiting."
            )
        return form_class

    def _set_active(self, request, mailing: Mailing, active: bool) -> Mailing:
        if active == mailing.is_active:
            return mailing
        switch = services.mailing_enable if active else services.mailing_disable
        return switch(actor=request.user, mailing=mailing)

    def _create(self, request, owner, form):
        mailing = services.mailing_create(actor=request.user, owner=owner, data=form.data)
        return self._set_active(request, mailing, form.cleaned_data["is_active"])

    def _update(self, request, obj, form):
        mailing = services.mailing_update(actor=request.user, mailing=obj, data=form.data)
        return self._set_active(request, mailing, form.cleaned_data["is_active"])

    def _delete(self, request, obj):
        services.mailing_delete(actor=request.user, mailing=obj)

    @admin.display(description=_("Next occurrences"))
    def upcoming_occurrences(self, obj: Mailing) -> str:
        if not obj.pk:
            return "-"
        now = timezone.now()
        moments = ([obj.next_run_at] if obj.next_run_at and obj.next_run_at <= now else []) + obj.upcoming(
            after=now, limit=5
        )
        if not moments:
            return str(_("none left"))
        tz = obj.tz
        return format_html_join(
            "", "<div>{}</div>", ((m.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z"),) for m in moments)
        )


@admin.register(SenderIdentity)
class SenderIdentityAdmin(OwnedAdmin):
    """Through the services: a new or changed address gets its confirmation link; revoking is the managers'
    page's (it asks for a reason)."""

    form = SenderIdentityForm
    fields = [
        "owner",
        "from_name",
        "from_email",
        "reply_to",
        "confirmation_sent_at",
        "confirmed_at",
        "revoked_at",
        "revoked_by",
        "revoked_reason",
        "created_at",
    ]
    readonly_fields = [
        "owner",
        "confirmation_sent_at",
        "confirmed_at",
        "revoked_at",
        "revoked_by",
        "revoked_reason",
        "created_at",
    ]
    list_display = ["from_email", "from_name", "owner", "confirmed_at", "revoked_at"]
    list_filter = [("confirmed_at", admin.EmptyFieldListFilter), ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["from_email", "from_name", "owner__email"]
    list_select_related = ["owner"]

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        return fields if obj is not None else ["owner", "from_name", "from_email", "reply_to"]

    def _create(self, request, owner, form):
        return services.sender_create(actor=request.user, owner=owner, data=form.data)

    def _update(self, request, obj, form):
        return services.sender_update(actor=request.user, identity=obj, data=form.data)

    def _delete(self, request, obj):
        services.sender_delete(actor=request.user, identity=obj)


@admin.register(SignupForm)
class SignupFormAdmin(OwnedAdmin):
    """A public sign-up form (R-ENG-1), through the services like the owner's page."""

    form = SignupFormForm
    fields = [
        "owner",
        "name",
        "title",
        "description",
        "consent_text",
        "thank_you_text",
        "tags",
        "sender",
        "is_active",
        "public_id",
        "created_at",
    ]
    readonly_fields = ["owner", "public_id", "created_at"]
    list_display = ["name", "title", "owner", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "title", "owner__email"]
    list_select_related = ["owner"]

    def _create(self, request, owner, form):
        return services.signup_form_create(actor=request.user, owner=owner, data=form.data)

    def _update(self, request, obj, form):
        return services.signup_form_update(actor=request.user, signup_form=obj, data=form.data)

    def _delete(self, request, obj):
        services.signup_form_delete(actor=request.user, signup_form=obj)


@admin.register(SenderDomain)
class SenderDomainAdmin(OwnedAdmin):
    """The private key is never a field here (nor in the list, the search or the history)."""

    form = SenderDomainForm
    fields = [
        "owner",
        "domain",
        "algorithm",
        "dns_record_name",
        "dns_record_value",
        "verified_at",
        "checked_at",
        "check_result",
        "created_at",
    ]
    readonly_fields = [
        "owner",
        "dns_record_name",
        "dns_record_value",
        "verified_at",
        "checked_at",
        "check_result",
        "created_at",
    ]
    list_display = ["domain", "owner", "algorithm", "verified_at", "checked_at"]
    list_filter = [("verified_at", admin.EmptyFieldListFilter), "algorithm"]
    search_fields = ["domain", "owner__email"]
    list_select_related = ["owner"]
    actions = ["check_dns"]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("private_key")

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        return fields if obj is not None else ["owner", "domain", "algorithm"]

    def get_readonly_fields(self, request, obj=None):
        # The key pair was made for this domain and algorithm: they are not edited afterwards.
        readonly = list(super().get_readonly_fields(request, obj))
        return [*readonly, "domain", "algorithm"] if obj is not None else readonly

    @admin.display(description=_("DNS record name"))
    def dns_record_name(self, obj: SenderDomain) -> str:
        return services.dns_record(obj).name if obj.pk else "-"

    @admin.display(description=_("DNS record value (TXT)"))
    def dns_record_value(self, obj: SenderDomain) -> str:
        return services.dns_record(obj).value if obj.pk else "-"

    @admin.action(description=_("Check the DKIM record in DNS"))
    def check_dns(self, request, queryset):
        for domain in queryset:
            try:
                domain = services.sender_domain_check(actor=request.user, domain=domain)
            except RateLimited:
                self.message_user(request, gettext("Too many DNS checks; try again later."), messages.ERROR)
                return
            self.message_user(request, f"{domain.domain}: {domain.check_result}")

    def _create(self, request, owner, form):
        return services.sender_domain_add(actor=request.user, owner=owner, data=form.data)

    def _update(self, request, obj, form):
        return obj  # nothing of a domain is edited: see get_readonly_fields

    def _delete(self, request, obj):
        services.sender_domain_delete(actor=request.user, domain=obj)


@admin.register(Occurrence)
class OccurrenceAdmin(ReadOnlyAdmin):
    list_display = ["mailing", "scheduled_for", "is_manual", "created_at", "finished_at"]
    list_filter = ["is_manual", "scheduled_for"]
    search_fields = ["mailing__message__subject"]


class DeliveryAttemptInline(admin.TabularInline):
    """Each attempt with its OWN outcome, answer and time, not the delivery's current state."""

    model = DeliveryAttempt
    fields = ["attempted_at", "outcome", "smtp_code", "response"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = [
        "email",
        "mailing",
        "occurrence",
        "status",
        "attempts",
        "last_attempt_at",
        "last_response",
    ]
    list_filter = ["status", "last_attempt_at"]
    search_fields = ["email", "mailing__message__subject", "last_response"]
    list_select_related = ["mailing__message", "occurrence"]
    inlines = [DeliveryAttemptInline]


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(ReadOnlyAdmin):
    # The recipient, not the delivery itself: a delivery reads "address: current status", which beside an
    # old attempt said "sent" next to that attempt's 451 "temporary failure".
    list_display = ["attempted_at", "recipient", "outcome", "smtp_code", "response"]
    list_filter = ["outcome", "smtp_code", "attempted_at"]
    search_fields = ["delivery__email", "response"]
    list_select_related = ["delivery"]

    @admin.display(description=_("recipient"), ordering="delivery__email")
    def recipient(self, obj: DeliveryAttempt) -> str:
        return obj.delivery.email


@admin.register(Unsubscription)
class UnsubscriptionAdmin(ReadOnlyAdmin):
    list_display = ["email", "owner", "created_at"]
    search_fields = ["email", "owner__email"]


@admin.register(Consent)
class ConsentAdmin(ReadOnlyAdmin):
    """The proof of each confirmed subscription (R-ENG-1): read-only, as recorded."""

    list_display = ["email", "owner", "form", "requested_at", "confirmed_at", "confirmed_ip"]
    search_fields = ["email", "owner__email"]
    list_select_related = ["owner", "form"]


@admin.register(Bounce)
class BounceAdmin(ReadOnlyAdmin):
    """Every mail read back at the bounce address (R-DLV-3), also those that named no delivery of ours
    (owner empty): the operator reads them here, raw mail as escaped text. Read-only, except that a superuser
    may delete one mail that was not understood, once read: the raw-mail purge keeps those for a person, so
    this is how they go. A bounce that acted on a client is never deleted by hand (it is the client's
    record), and there is no bulk delete."""

    list_display = ["received_at", "kind", "email", "owner", "status_code", "source", "size", "raw_truncated"]
    list_filter = ["kind", "source", ("owner", admin.EmptyFieldListFilter), "received_at"]
    search_fields = ["email", "envelope_to", "reason", "sha256"]
    list_select_related = ["owner"]
    exclude = ["raw"]
    readonly_fields = ["raw_text"]

    def has_delete_permission(self, request: HttpRequest, obj: Bounce | None = None) -> bool:
        return bool(obj is not None and obj.kind == Bounce.Kind.UNCLASSIFIED and request.user.is_superuser)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Bounce]:
        # The list never loads the raw mail (up to BOUNCE_RAW_MAX_BYTES a row); the change view's
        # `raw_text` loads it for its one row.
        return super().get_queryset(request).defer("raw")

    @admin.display(description=_("raw mail"))
    def raw_text(self, obj: Bounce) -> str:
        if obj.raw_purged_at is not None:
            return gettext("Deleted on %(date)s.") % {"date": obj.raw_purged_at}
        text = bytes(obj.raw).decode("utf-8", "replace")
        return format_html(
            '<pre style="white-space: pre-wrap; max-height: 40em; overflow: auto">{}</pre>', text
        )
