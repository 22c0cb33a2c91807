"""Tags (R-AUD-2): the owner's labels on clients, listed with how many clients carry each; create, rename,
delete. A tag that a mailing still sends to cannot be deleted (`services.tag_delete`: TAG_IN_USE)."""

from django.db.models import Model, QuerySet
from django.http import QueryDict
from django.urls import reverse, reverse_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from backend.mailings import selectors, services
from backend.mailings.filters import TagFilter
from backend.mailings.forms import TagForm
from backend.mailings.models import Mailing, Tag

from ..moments import moment_text
from .generic import Action, Column, OwnerCreateView, OwnerDeleteView, OwnerEditView, OwnerListView

LIST_URL = reverse_lazy("tags:list")


class TagList(OwnerListView):
    template_name = "web/tags/list.html"
    title = gettext_lazy("Tags")
    add_url = reverse_lazy("tags:new")
    add_label = gettext_lazy("New tag")
    default_sort = "name"
    no_match_text = gettext_lazy("No tag matches your search.")
    empty_text = gettext_lazy("No tags yet.")
    columns = [
        Column("name", gettext_lazy("Name"), lambda t: t.name, ("name",), link=True),
        Column("size", gettext_lazy("Clients"), lambda t: t.size, ("size",)),
        Column(
            "public",
            gettext_lazy("On preferences page"),
            lambda t: _("public") if t.is_public else "",
            ("is_public",),
        ),
        Column(
            "created",
            gettext_lazy("Created"),
            lambda t: moment_text(t.created_at),
            ("created_at",),
            classes="d-none d-md-table-cell",
        ),
    ]

    def get_filterset(self, data: dict) -> TagFilter:
        return selectors.tag_list(self.request.user, data)

    def row_url(self, obj: Tag) -> str:
        return f"{reverse('clients:list')}?tag={obj.pk}"

    def row_actions(self, obj: Tag) -> list[Action]:
        return [
            Action(_("Rename"), reverse("tags:edit", args=[obj.pk]), "pencil"),
            Action(_("Delete"), reverse("tags:delete", args=[obj.pk]), "trash", "outline-danger"),
        ]


class TagObjectMixin:
    list_url = LIST_URL

    def lookup(self, pk: int) -> Model:
        return selectors.tags_for(self.request.user).get(pk=pk)


class TagCreate(OwnerCreateView):
    form_class = TagForm
    list_url = LIST_URL
    title = gettext_lazy("New tag")

    def perform_create(self, data: QueryDict) -> Tag:
        return services.tag_create(actor=self.request.user, data=data)

    def created_message(self, obj: Tag) -> str:
        return _("Tag “%(name)s” created.") % {"name": obj.name}


class TagEdit(TagObjectMixin, OwnerEditView):
    form_class = TagForm

    def perform_update(self, obj: Tag, data: QueryDict) -> Tag:
        return services.tag_update(actor=self.request.user, tag=obj, data=data)

    def edit_title(self, obj: Tag) -> str:
        return _("Rename tag “%(name)s”") % {"name": obj.name}

    def updated_message(self, obj: Tag) -> str:
        return _("Tag “%(name)s” saved.") % {"name": obj.name}


def mailings_sending_to(user, tag: Tag) -> QuerySet[Mailing]:
    """The user's mailings, not completed, whose audience is this tag: they keep it from being deleted."""
    return (
        selectors.own_mailings(user)
        .filter(audience=Mailing.Audience.TAGS, tags=tag)
        .exclude(status=Mailing.Status.COMPLETED)
        .select_related("message")
        .order_by("-created_at", "-pk")
    )


class TagDelete(TagObjectMixin, OwnerDeleteView):
    def perform_delete(self, obj: Tag) -> None:
        services.tag_delete(actor=self.request.user, tag=obj)

    def delete_title(self, obj: Tag) -> str:
        return _("Delete tag “%(name)s”?") % {"name": obj.name}

    def deleted_message(self, label: str) -> str:
        return _("Tag “%(name)s” deleted.") % {"name": label}

    def consequences(self, obj: Tag) -> list[str]:
        size = selectors.tags_with_sizes(self.request.user).get(pk=obj.pk).size
        return [
            ngettext(
                "The tag is taken off %(count)d client; the client stays.",
                "The tag is taken off %(count)d clients; the clients stay.",
                size,
            )
            % {"count": size}
        ]

    def blockers(self, obj: Tag) -> list[Action]:
        return [
            Action(
                _("Mailing #%(number)d “%(name)s” (%(status)s)")
                % {
                    "number": mailing.pk,
                    "name": mailing.name,
                    "status": mailing.get_status_display(),
                },
                reverse("mailings:edit", args=[mailing.pk]),
                "send",
            )
            for mailing in mailings_sending_to(self.request.user, obj)
        ]

    def blocked_text(self, obj: Tag, count: int) -> str:
        return ngettext(
            "A mailing that is not completed sends to this tag. Change its audience first.",
            "%(count)d mailings that are not completed send to this tag. Change their audience first.",
            count,
        ) % {"count": count}
