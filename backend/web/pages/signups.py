"""Sign-up forms (R-ENG-1): the owner's public forms, listed with their hosted page and how many
subscriptions each brought; create, edit, delete; a form's page shows its link and the HTML snippet to
paste on the owner's own site."""

from django.db.models import Model
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.urls import reverse, reverse_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from backend.mailings import selectors, services
from backend.mailings.filters import SignupFormFilter
from backend.mailings.forms import SignupFormForm
from backend.mailings.models import SignupForm
from backend.mailings.services.signups import hosted_url, snippet

from ..moments import moment_text
from .generic import (
    Action,
    Column,
    OwnerCreateView,
    OwnerDeleteView,
    OwnerEditView,
    OwnerListView,
    OwnerObjectMixin,
)

LIST_URL = reverse_lazy("signups:list")


class SignupFormList(OwnerListView):
    title = gettext_lazy("Sign-up forms")
    add_url = reverse_lazy("signups:new")
    add_label = gettext_lazy("New sign-up form")
    default_sort = "-created"
    no_match_text = gettext_lazy("No sign-up form matches your search.")
    empty_text = gettext_lazy("No sign-up forms yet.")
    columns = [
        Column("name", gettext_lazy("Name"), lambda f: f.name, ("name",), link=True),
        Column(
            "title", gettext_lazy("Heading"), lambda f: f.title, ("title",), classes="d-none d-md-table-cell"
        ),
        Column(
            "active",
            gettext_lazy("Accepting sign-ups"),
            lambda f: _("yes") if f.is_active else _("no"),
            ("is_active",),
        ),
        Column("confirmed", gettext_lazy("Subscriptions"), lambda f: f.confirmed, ("confirmed",)),
        Column(
            "created",
            gettext_lazy("Created"),
            lambda f: moment_text(f.created_at),
            ("created_at",),
            classes="d-none d-md-table-cell",
        ),
    ]

    def get_filterset(self, data: dict) -> SignupFormFilter:
        return selectors.signup_form_list(self.request.user, data)

    def row_url(self, obj: SignupForm) -> str:
        return reverse("signups:detail", args=[obj.pk])

    def row_actions(self, obj: SignupForm) -> list[Action]:
        return [
            Action(
                _("Open the hosted page"),
                reverse("web:subscribe", args=[obj.public_id]),
                "box-arrow-up-right",
            ),
            Action(_("Edit"), reverse("signups:edit", args=[obj.pk]), "pencil"),
            Action(_("Delete"), reverse("signups:delete", args=[obj.pk]), "trash", "outline-danger"),
        ]


class SignupFormObjectMixin:
    list_url = LIST_URL

    def lookup(self, pk: int) -> Model:
        return selectors.signup_form_get(self.request.user, pk)


class SignupFormDetail(SignupFormObjectMixin, OwnerObjectMixin, View):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        signup_form = self.get_object(pk)
        context = {
            "signup_form": signup_form,
            "hosted_url": hosted_url(signup_form),
            "snippet": snippet(signup_form),
            "tags": signup_form.tags.order_by("name", "pk"),
        }
        return render(request, "web/signups/detail.html", context)


class SignupFormCreate(OwnerCreateView):
    form_class = SignupFormForm
    list_url = LIST_URL
    title = gettext_lazy("New sign-up form")

    def perform_create(self, data: QueryDict) -> SignupForm:
        return services.signup_form_create(actor=self.request.user, data=data)

    def created_message(self, obj: SignupForm) -> str:
        return _("Sign-up form “%(name)s” created.") % {"name": obj.name}

    def success_url(self, obj: SignupForm) -> str:
        return reverse("signups:detail", args=[obj.pk])


class SignupFormEdit(SignupFormObjectMixin, OwnerEditView):
    form_class = SignupFormForm

    def perform_update(self, obj: SignupForm, data: QueryDict) -> SignupForm:
        return services.signup_form_update(actor=self.request.user, signup_form=obj, data=data)

    def edit_title(self, obj: SignupForm) -> str:
        return _("Edit sign-up form “%(name)s”") % {"name": obj.name}

    def updated_message(self, obj: SignupForm) -> str:
        return _("Sign-up form “%(name)s” saved.") % {"name": obj.name}

    def success_url(self, obj: SignupForm) -> str:
        return reverse("signups:detail", args=[obj.pk])


class SignupFormDelete(SignupFormObjectMixin, OwnerDeleteView):
    def perform_delete(self, obj: SignupForm) -> None:
        services.signup_form_delete(actor=self.request.user, signup_form=obj)

    def delete_title(self, obj: SignupForm) -> str:
        return _("Delete sign-up form “%(name)s”?") % {"name": obj.name}

    def deleted_message(self, label: str) -> str:
        return _("Sign-up form “%(name)s” deleted.") % {"name": label}

    def consequences(self, obj: SignupForm) -> list[str]:
        return [
            _(
                "Its page and every copy of its snippet stop taking sign-ups; links already mailed stop "
                "working."
            ),
            _("The clients it brought and their recorded consents stay."),
        ]
