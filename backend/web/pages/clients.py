"""Clients (R-DATA-1, R-AUTH-4): list, add, edit, delete."""

from django.db.models import Model, QuerySet
from django.http import QueryDict
from django.urls import reverse, reverse_lazy
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from backend.mailings import selectors, services
from backend.mailings.forms import ClientForm
from backend.mailings.models import Client

from .generic import Action, Column, OwnerCreateView, OwnerDeleteView, OwnerEditView, OwnerListView

LIST_URL = reverse_lazy("clients:list")


def _subscription(client: Client) -> str:
    if client.unsubscribed_at is None:
        return format_html('<span class="badge text-bg-success">{}</span>', _("subscribed"))
    return format_html('<span class="badge text-bg-secondary">{}</span>', _("unsubscribed"))


class ClientList(OwnerListView):
    template_name = "web/clients/list.html"
    title = gettext_lazy("Clients")
    add_url = reverse_lazy("clients:new")
    add_label = gettext_lazy("Add a client")
    search_fields = ("email", "full_name")
    search_label = gettext_lazy("Search by email or name")
    default_sort = "full_name"
    no_match_text = gettext_lazy("No client matches your search.")
    columns = [
        Column("full_name", gettext_lazy("Name"), lambda c: c.full_name, ("full_name",), link=True),
        Column("email", gettext_lazy("Email"), lambda c: c.email, ("email",)),
        Column(
            "status",
            gettext_lazy("Status"),
            _subscription,
            ("unsubscribed_at",),
            classes="d-none d-sm-table-cell",
        ),
        Column(
            "created",
            gettext_lazy("Added"),
            lambda c: c.created_at,
            ("created_at",),
            classes="d-none d-lg-table-cell",
        ),
    ]

    def get_queryset(self) -> QuerySet[Client]:
        return selectors.clients_for(self.request.user)

    def row_url(self, obj: Client) -> str:
        return reverse("clients:edit", args=[obj.pk])

    def row_actions(self, obj: Client) -> list[Action]:
        return [
            Action(_("Edit"), reverse("clients:edit", args=[obj.pk]), "pencil"),
            Action(_("Delete"), reverse("clients:delete", args=[obj.pk]), "trash", "outline-danger"),
        ]


class ClientCreate(OwnerCreateView):
    form_class = ClientForm
    list_url = LIST_URL
    title = gettext_lazy("Add a client")

    def perform_create(self, data: QueryDict) -> Client:
        return services.client_create(actor=self.request.user, data=data)

    def created_message(self, obj: Client) -> str:
        return _("Client %(email)s added.") % {"email": obj.email}


class ClientEdit(OwnerEditView):
    form_class = ClientForm
    list_url = LIST_URL

    def lookup(self, pk: int) -> Model:
        return selectors.client_get(self.request.user, pk)

    def perform_update(self, obj: Client, data: QueryDict) -> Client:
        return services.client_update(actor=self.request.user, client=obj, data=data)

    def edit_title(self, obj: Client) -> str:
        return _("Edit client %(email)s") % {"email": obj.email}

    def updated_message(self, obj: Client) -> str:
        return _("Client %(email)s saved.") % {"email": obj.email}


class ClientDelete(OwnerDeleteView):
    list_url = LIST_URL

    def lookup(self, pk: int) -> Model:
        return selectors.client_get(self.request.user, pk)

    def perform_delete(self, obj: Client) -> None:
        services.client_delete(actor=self.request.user, client=obj)

    def delete_title(self, obj: Client) -> str:
        return _("Delete client %(email)s?") % {"email": obj.email}

    def deleted_message(self, label: str) -> str:
        return _("Client %(client)s deleted.") % {"client": label}

    def consequences(self, obj: Client) -> list[str]:
        count = obj.mailings.count()
        result = []
        if count:
            result.append(
                ngettext(
                    "The client is taken out of %(count)d mailing.",
                    "The client is taken out of %(count)d mailings.",
                    count,
                )
                % {"count": count}
            )
        result.append(_("Reports keep the address of every message already sent to this client."))
        return result
