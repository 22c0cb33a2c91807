"""Writes on messages: create, edit, delete (refused while a mailing uses the message)."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import RestrictedError
from django.utils.translation import ngettext

from backend.accounts.models import User

from ..errors import ErrorCode
from ..forms import MessageForm
from ..models import Message
from .base import owner_for_create, require_can_edit, validated


def message_create(*, actor: User, data: dict, owner: User | None = None) -> Message:
    owner = owner_for_create(actor, owner)
    form = validated(MessageForm(data=data, owner=owner))
    with transaction.atomic():
        return form.save()


def message_update(*, actor: User, message: Message, data: dict) -> Message:
    require_can_edit(actor, message)
    form = validated(MessageForm(data=data, instance=message, owner=message.owner))
    with transaction.atomic():
        return form.save()


def message_delete(*, actor: User, message: Message) -> None:
    require_can_edit(actor, message)
    try:
        with transaction.atomic():
            message.delete()
    except RestrictedError as exc:
        count = len(exc.restricted_objects)
        raise ValidationError(
            ngettext(
                "This message is used by %(count)d mailing; delete or change it first.",
                "This message is used by %(count)d mailings; delete or change them first.",
                count,
            ),
            code=ErrorCode.MESSAGE_IN_USE,
            params={"count": count},
        ) from exc
