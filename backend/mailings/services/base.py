"""What every service shares: the actor checks, the form check, the command-line operator.

Rules (R-AUTH-4, R-AUTH-5):
- an owner (active, not blocked) creates, edits and deletes their own clients, messages and mailings;
- a manager (`view_all_mailings`) edits nothing of anyone's, themselves included; with `disable_mailing`
  they disable and re-enable any mailing;
- a superuser may do everything; edits of another owner's objects stay within that owner's lists;
- a blocked or inactive user may do nothing.
Refusals raise `PermissionDenied`; invalid input raises `FormInvalid` carrying the bound form, so a page can
re-render it and GraphQL can return its errors per field.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext as _

from backend.accounts import roles
from backend.accounts.models import User

from ..errors import ErrorCode
from ..forms import OwnedModelForm
from ..models import Client, Mailing, Message, Tag


class FormInvalid(ValidationError):
    def __init__(self, form: OwnedModelForm):
        self.form = form
        super().__init__(form.errors.as_data())
        self.code = ErrorCode.INVALID


class Operator:
    """The operator at the server's command line (`send_mailing`): shell access already grants everything,
    so only the mailing's state decides. A named actor, not `None`, so that a page or an API call that lost
    its user can never skip the permission check by accident."""

    def __repr__(self) -> str:
        return "OPERATOR"


OPERATOR = Operator()


def require_can_act(actor: User) -> None:
    if not roles.may_act(actor):
        raise PermissionDenied(_("Your account cannot do this (signed out, inactive or blocked)."))


def require_can_edit(actor: User, obj: Client | Tag | Message | Mailing | None = None) -> None:
    require_can_act(actor)
    if roles.may_edit_for_any_owner(actor):
        return
    if roles.is_manager(actor):
        raise PermissionDenied(_("Managers oversee mailings but cannot edit clients, messages or mailings."))
    if roles.is_content_editor(actor):
        raise PermissionDenied(_("Content editors work on the blog only; they keep no clients or mailings."))
    if obj is not None and obj.owner_id != actor.pk:
        raise PermissionDenied(_("This belongs to another user."))


def require_can_disable(actor: User) -> None:
    require_can_act(actor)
    if not roles.may_disable_mailings(actor):
        raise PermissionDenied(_("Only managers can disable or re-enable mailings."))


def owner_for_create(actor: User, owner: User | None) -> User:
    """Whose list a new object goes into: the actor's own, or any user's when a superuser chooses (the
    admin)."""
    require_can_edit(actor)
    if owner is None or owner.pk == actor.pk:
        return actor
    if not roles.may_edit_for_any_owner(actor):
        raise PermissionDenied(_("Only a superuser can create something for another user."))
    return owner


def validated(form: OwnedModelForm) -> OwnedModelForm:
    if not form.is_valid():
        raise FormInvalid(form)
    return form


def require_may_be_sent(mailing: Mailing) -> None:
    """Refuse a mailing that nothing may be sent for, whatever its schedule (R-SEND-8): disabled by a
    manager, or its owner blocked or inactive."""
    if not mailing.is_active:
        raise ValidationError(
            _("This mailing is disabled; it cannot be sent until it is enabled again."),
            code=ErrorCode.MAILING_DISABLED,
        )
    if mailing.paused_at is not None:
        raise ValidationError(
            _("This mailing is paused; resume it to send it."), code=ErrorCode.MAILING_PAUSED
        )
    if not roles.may_act(mailing.owner):
        raise ValidationError(
            _("The owner of this mailing is blocked or inactive; nothing is sent for them."),
            code=ErrorCode.OWNER_CANNOT_ACT,
        )
    if mailing.owner.sending_paused_at is not None:
        raise ValidationError(
            _("Sending is paused for this account while a manager reviews it; nothing is sent until then."),
            code=ErrorCode.SENDING_PAUSED,
        )
