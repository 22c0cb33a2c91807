"""Writes on tags (R-AUD-2): create, rename, delete, and a tag added to or removed from many clients at
once — the ticked rows or every client matching a search — in one statement whatever the count."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, IntegerField, QuerySet, Value
from django.utils.translation import gettext as _

from backend.accounts.models import User

from .. import bulk
from ..errors import ErrorCode
from ..forms import TagForm
from ..models import Client, ClientTag, Mailing, Tag
from .base import FormInvalid, owner_for_create, require_can_edit, validated


def tag_create(*, actor: User, data: dict, owner: User | None = None) -> Tag:
    owner = owner_for_create(actor, owner)
    return _saved(validated(TagForm(data=data, owner=owner)))


def tag_update(*, actor: User, tag: Tag, data: dict) -> Tag:
    require_can_edit(actor, tag)
    return _saved(validated(TagForm(data=data, instance=tag, owner=tag.owner)))


def _saved(form: TagForm) -> Tag:
    """The form checked the name; a tag of the same name saved meanwhile (a second tab, a parallel API call)
    meets the unique constraint, which answers as the form would."""
    try:
        with transaction.atomic():
            return form.save()
    except IntegrityError:
        form.add_error(
            "name",
            ValidationError(_("You already have a tag with this name."), code=ErrorCode.DUPLICATE_TAG),
        )
        raise FormInvalid(form) from None


def tag_delete(*, actor: User, tag: Tag) -> None:
    """Removes the tag from its clients (they stay). Refused while a mailing that is not completed sends to
    it: that mailing's audience would silently shrink or vanish."""
    require_can_edit(actor, tag)
    with transaction.atomic():
        # The lock a mailing's save takes on its tags (services.mailings): a mailing saved meanwhile with this
        # tag is seen below, and one saved after finds the tag gone.
        tag = Tag.objects.select_for_update().filter(pk=tag.pk).first()
        if tag is None:
            return
        users = tag.mailings.filter(audience=Mailing.Audience.TAGS).exclude(status=Mailing.Status.COMPLETED)
        if users.exists():
            raise ValidationError(
                _("Mailings that are not completed send to this tag; change their audience first."),
                code=ErrorCode.TAG_IN_USE,
            )
        tag.delete()


def clients_tag(*, actor: User, tag: Tag, clients: QuerySet[Client]) -> int:
    """Adds `tag` to every client of `clients` (a selection from the tag owner's list: ticked ids, or a
    search's queryset) in one INSERT ... SELECT. Returns how many clients newly carry it."""
    require_can_edit(actor, tag)
    with transaction.atomic():
        return bulk.insert_from(
            ClientTag,
            {"client": F("pk"), "tag": Value(tag.pk, output_field=IntegerField())},
            clients.filter(owner_id=tag.owner_id),
        )


def clients_untag(*, actor: User, tag: Tag, clients: QuerySet[Client]) -> int:
    """Removes `tag` from every client of `clients` in one DELETE. Returns how many no longer carry it."""
    require_can_edit(actor, tag)
    with transaction.atomic():
        chosen = clients.filter(owner_id=tag.owner_id).order_by().values("pk")
        deleted, _by_model = ClientTag.objects.filter(tag=tag, client__in=chosen).delete()
        return deleted
