"""Messages (R-DATA-2, R-AUTH-4): list, write, edit, delete."""

from django.db.models import Count, Model, QuerySet
from django.http import QueryDict
from django.urls import reverse, reverse_lazy
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from backend.mailings import selectors, services
from backend.mailings.forms import MessageForm
from backend.mailings.models import Message

from .generic import Action, Column, OwnerCreateView, OwnerDeleteView, OwnerEditView, OwnerListView

LIST_URL = reverse_lazy("messages:list")


class MessageList(OwnerListView):
    title = gettext_lazy("Messages")
    add_url = reverse_lazy("messages:new")
    add_label = gettext_lazy("Write a message")
    search_fields = ("subject", "body")
    search_label = gettext_lazy("Search the subject and text")
    default_sort = "-updated"
    no_match_text = gettext_lazy("No message matches your search.")
    empty_text = gettext_lazy("No messages yet. Write the first one; a mailing sends it to your clients.")
    columns = [
        Column("subject", gettext_lazy("Subject"), lambda m: m.subject, ("subject",), link=True),
        Column(
            "text",
            gettext_lazy("Text"),
            lambda m: Truncator(m.body).chars(80),
            classes="d-none d-lg-table-cell text-body-secondary",
        ),
        Column(
            "mailings",
            gettext_lazy("Mailings"),
            lambda m: m.mailings_count,
            ("mailings_count",),
            classes="d-none d-sm-table-cell",
        ),
        Column(
            "updated",
            gettext_lazy("Updated"),
            lambda m: m.updated_at,
            ("updated_at",),
            classes="d-none d-md-table-cell",
        ),
    ]

    def get_queryset(self) -> QuerySet[Message]:
        return selectors.messages_for(self.request.user).annotate(mailings_count=Count("mailings"))

    def row_url(self, obj: Message) -> str:
        return reverse("messages:edit", args=[obj.pk])

    def row_actions(self, obj: Message) -> list[Action]:
        return [
            Action(_("Edit"), reverse("messages:edit", args=[obj.pk]), "pencil"),
            Action(_("Delete"), reverse("messages:delete", args=[obj.pk]), "trash", "outline-danger"),
        ]


class MessageCreate(OwnerCreateView):
    form_class = MessageForm
    list_url = LIST_URL
    title = gettext_lazy("Write a message")

    def perform_create(self, data: QueryDict) -> Message:
        return services.message_create(actor=self.request.user, data=data)

    def created_message(self, obj: Message) -> str:
        return _("Message “%(subject)s” saved.") % {"subject": obj.subject}


class MessageEdit(OwnerEditView):
    form_class = MessageForm
    list_url = LIST_URL

    def lookup(self, pk: int) -> Model:
        return selectors.message_get(self.request.user, pk)

    def perform_update(self, obj: Message, data: QueryDict) -> Message:
        return services.message_update(actor=self.request.user, message=obj, data=data)

    def edit_title(self, obj: Message) -> str:
        return _("Edit message “%(subject)s”") % {"subject": obj.subject}

    def updated_message(self, obj: Message) -> str:
        return _("Message “%(subject)s” saved.") % {"subject": obj.subject}


class MessageDelete(OwnerDeleteView):
    list_url = LIST_URL

    def lookup(self, pk: int) -> Model:
        return selectors.message_get(self.request.user, pk)

    def perform_delete(self, obj: Message) -> None:
        services.message_delete(actor=self.request.user, message=obj)

    def delete_title(self, obj: Message) -> str:
        return _("Delete message “%(subject)s”?") % {"subject": obj.subject}

    def deleted_message(self, label: str) -> str:
        return _("Message “%(subject)s” deleted.") % {"subject": label}

    def consequences(self, obj: Message) -> list[str]:
        count = obj.mailings.count()
        if not count:
            return [_("No mailing uses this message.")]
        return [
            ngettext(
                "%(count)d mailing uses this message.",
                "%(count)d mailings use this message.",
                count,
            )
            % {"count": count}
        ]
