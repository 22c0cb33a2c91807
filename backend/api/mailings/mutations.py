"""Writes on clients, messages and mailings.

Each mutation looks its object up through the owner-scoped selector (another owner's ID is NOT_FOUND, like a
missing one), then calls the domain service with `actor=user`: the service decides who may do what
(PermissionDenied → FORBIDDEN, e.g. a manager editing a mailing: R-AUTH-5) and validates with the domain's
form (FormInvalid → `errors { field message code }` in the payload).

Mailing input: `messageId`, `tagIds` and the client IDs go to the form as primary keys, and the form offers
only the owner's own message, tags and clients as choices, so another owner's (or a malformed, or a deleted)
ID is refused per field ("Select a valid choice"). The audience (R-AUD-1) left out keeps the mailing's (chosen
clients for a new one, so a call naming only `clientIds` means what it always did); `clientIds` replaces the
chosen clients, `addClientIds`, `removeClientIds` and `addClientsMatching` change them, so a big list never
travels whole. `startAt`/`endAt` are ISO 8601 date-times: with an offset they are that
instant; without one they are wall-clock times in the owner's time zone, as on the page.
"""

import graphene
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from graphql_relay import to_global_id

from backend.accounts.models import User
from backend.mailings import csv_io, limits, selectors, services
from backend.mailings.errors import ErrorCode
from backend.mailings.models import Client, Mailing, Tag
from backend.mailings.models import ClientImport as ClientImportModel

from ..core.errors import Error, NotFound, errors_from
from ..core.ids import pk_from_global_id, pks_from_global_ids
from ..core.inputs import filter_args, filtered
from ..core.mutations import BaseMutation
from ..core.scalars import Upload
from .types import (
    ClientType,
    MailingAudience,
    MailingPeriodicity,
    MailingTagMatch,
    MailingType,
    MessageType,
    TagType,
)

# How many client IDs one tagClients / untagClients call may name; more go by `matching`.
TAG_CLIENT_IDS_MAX = 1000

# --- inputs ---------------------------------------------------------------------------------------------


class ClientInput(graphene.InputObjectType):
    email = graphene.String(required=True)
    full_name = graphene.String(
        default_value="", description="Empty: the part of the address before the @, as an import does."
    )
    comment = graphene.String(default_value="")
    readd = graphene.Boolean(
        default_value=False,
        description="The person asked to be added again: needed for an address erased at the person's "
        "request (R-ENG-4; without it `erased`), whose remaining hash it deletes.",
    )


class MessageInput(graphene.InputObjectType):
    subject = graphene.String(required=True, description="One line; placeholders allowed.")
    body = graphene.String(required=True, description="Plain text; placeholders allowed.")
    html_body = graphene.String(default_value="", description="Optional HTML version.")


class TagInput(graphene.InputObjectType):
    name = graphene.String(required=True, description="Unique in your list in any letter case; no comma.")
    is_public = graphene.Boolean(
        description="Shown on your clients' preferences page, where they may take or drop it (R-ENG-3). "
        "Left out: unchanged (private for a new tag)."
    )


def _tag_data(data) -> dict:
    values = {"name": data.name}
    if data.is_public is not None:
        values["is_public"] = bool(data.is_public)
    return values


class ClientMatchInput(graphene.InputObjectType):
    """Every client of yours that `clients` lists with the same arguments (all of them when both are left
    out)."""

    search = graphene.String(description="Part of the email or the full name, any letter case.")
    tag = graphene.ID(description="Only clients carrying this tag of yours.")


class MailingInput(graphene.InputObjectType):
    name = graphene.String(
        description="Shown in lists and reports (R-OWN-2); empty or left out: the message's subject."
    )
    message_id = graphene.ID(required=True)
    sender_id = graphene.ID(
        description='One of your usable senders (R-DLV-1); "" for none (the service\'s address with your '
        "name). Another owner's is NOT_FOUND, an unconfirmed or revoked one `invalid_choice`. Left out: the "
        "mailing's (none for a new one, and dropped if it is no longer usable)."
    )
    audience = MailingAudience(
        description="Left out: the mailing's current one; CLIENTS for a new mailing (R-AUD-1)."
    )
    tag_ids = graphene.List(
        graphene.NonNull(graphene.ID),
        description="Your tags, at least one with audience TAGS. Left out on update: the mailing's tags.",
    )
    tag_match = MailingTagMatch(
        description="With audience TAGS; left out: the mailing's (ANY for a new one)."
    )
    client_ids = graphene.List(
        graphene.NonNull(graphene.ID),
        description="The chosen clients, replacing the mailing's (for small picks; see addClientIds). Left "
        "out: unchanged. With audience CLIENTS the mailing needs at least one.",
    )
    add_client_ids = graphene.List(graphene.NonNull(graphene.ID), description="Clients to add to the chosen.")
    remove_client_ids = graphene.List(
        graphene.NonNull(graphene.ID), description="Clients to take out of the chosen."
    )
    add_clients_matching = graphene.String(
        description="Add every client of yours whose email or name contains this (as `clients(search:)`)."
    )
    start_at = graphene.DateTime(
        required=True, description="ISO 8601; without an offset, a wall-clock time in your time zone."
    )
    end_at = graphene.DateTime(
        description="After startAt; no occurrence at or after it. Required for a repeating mailing; left out "
        "for a ONCE one, it may still start within a day after startAt (R-OWN-2)."
    )
    periodicity = MailingPeriodicity(required=True)
    tracking = graphene.Boolean(
        description="Count opens and clicks (R-ENG-2): links in the HTML version lead through Mailer and a "
        "tiny image counts opens; the text version is never changed. Left out: the mailing's (true for a "
        "new one)."
    )


def _client_data(data) -> dict:
    return {
        "email": data.email,
        "full_name": data.full_name or "",
        "comment": data.comment or "",
        "readd": bool(data.readd),
    }


def _message_data(data) -> dict:
    return {"subject": data.subject, "body": data.body, "html_body": data.html_body or ""}


def _enum_value(value):
    return getattr(value, "value", value)


def _sender_pk(user: User, data, mailing: Mailing | None) -> int | str:
    """The form's `sender` value: the named identity (only the owner's own are found: another owner's is
    NOT_FOUND), "" for none, or the mailing's own while it is still usable when the input leaves it out."""
    owner = mailing.owner if mailing is not None else user
    if data.sender_id is None:
        if mailing is not None and mailing.sender_id:
            return mailing.sender_id if selectors.usable_senders(owner).filter(pk=mailing.sender_id) else ""
        return ""
    if data.sender_id == "":
        return ""
    pk = pk_from_global_id(data.sender_id, "SenderIdentity")
    return selectors.sender_identities_for(owner).get(pk=pk).pk


def _mailing_data(data, mailing: Mailing | None = None, *, user: User) -> dict:
    # The form reads an aware datetime as that instant and a naive one in the owner's time zone. Seconds
    # are kept, microseconds dropped: the form compares with an initial value shown without them, and an
    # unchanged end sent back must not count as a change.
    values = {
        "message": pks_from_global_ids([data.message_id], "Message")[0],
        "sender": _sender_pk(user, data, mailing),
        "name": data.name or (mailing.name if mailing is not None and data.name is None else ""),
        "start_at": data.start_at.replace(microsecond=0),
        "end_at": data.end_at.replace(microsecond=0) if data.end_at is not None else None,
        "periodicity": _enum_value(data.periodicity),
        "tracking": data.tracking if data.tracking is not None else (mailing is None or mailing.tracking),
    }
    # Keys left out of the form's data keep what the mailing has (the form replaces the chosen clients only
    # when `clients` is in it).
    if data.audience is not None:
        values["audience"] = _enum_value(data.audience)
    if data.tag_match is not None:
        values["tag_match"] = _enum_value(data.tag_match)
    if data.tag_ids is not None:
        values["tags"] = pks_from_global_ids(data.tag_ids, "Tag")
    elif mailing is not None:
        values["tags"] = [tag.pk for tag in mailing.tags.all()]
    if data.client_ids is not None:
        values["clients"] = pks_from_global_ids(data.client_ids, "Client")
    if data.add_client_ids:
        values["clients_added"] = pks_from_global_ids(data.add_client_ids, "Client")
    if data.remove_client_ids:
        values["clients_removed"] = pks_from_global_ids(data.remove_client_ids, "Client")
    if data.add_clients_matching:
        values["clients_matching"] = data.add_clients_matching
    return values


# The form's field names (camelCased) where the input's differ.
_MAILING_INPUT_FIELDS = {
    "message": "messageId",
    "sender": "senderId",
    "tags": "tagIds",
    "clients": "clientIds",
    "clientsAdded": "addClientIds",
    "clientsRemoved": "removeClientIds",
    "clientsMatching": "addClientsMatching",
}


def client_filters(search: str | None, tag: str | None, bounced: bool | None = None) -> dict:
    """The `clients` list's arguments as ClientFilter's data: a tag's global ID as its key (a malformed one
    or one of another type is NOT_FOUND; another owner's tag matches nobody)."""
    return filter_args(
        search=search, tag=pk_from_global_id(tag, "Tag") if tag is not None else None, bounced=bounced
    )


QUOTA_WARNING = (
    "What the owner's daily sending quota means for this mailing (R-DLV-5), in words to show; null when "
    "nothing: the audience is larger than the quota, or than what is left of it today (the rest waits for "
    "the following days), or sending is paused. A warning, never a refusal: the mailing is saved."
)


class MailingPayloadMixin:
    quota_warning = graphene.String(description=QUOTA_WARNING)

    @classmethod
    def mailing_errors(cls, exc: ValidationError) -> list[Error]:
        errors = errors_from(exc)
        for error in errors:
            error.field = _MAILING_INPUT_FIELDS.get(error.field, error.field)
        return errors


# --- clients --------------------------------------------------------------------------------------------


class CreateClient(BaseMutation):
    """Add a client to your list (R-DATA-1): `duplicate_email` when the address is already in it."""

    class Arguments:
        input = ClientInput(required=True)

    client = graphene.Field(ClientType)

    @classmethod
    def perform(cls, info, user: User, input):
        return cls(client=services.client_create(actor=user, data=_client_data(input)), errors=[])


class UpdateClient(BaseMutation):
    """Change one of your clients (every field)."""

    class Arguments:
        id = graphene.ID(required=True)
        input = ClientInput(required=True)

    client = graphene.Field(ClientType)

    @classmethod
    def perform(cls, info, user: User, id, input):
        client = selectors.client_get(user, pk_from_global_id(id, "Client"))
        return cls(
            client=services.client_update(actor=user, client=client, data=_client_data(input)), errors=[]
        )


class DeleteClient(BaseMutation):
    """Delete one of your clients; its deliveries stay in the reports with the address."""

    class Arguments:
        id = graphene.ID(required=True)

    deleted_id = graphene.ID()

    @classmethod
    def perform(cls, info, user: User, id):
        client = selectors.client_get(user, pk_from_global_id(id, "Client"))
        services.client_delete(actor=user, client=client)
        return cls(deleted_id=id, errors=[])


class EraseClient(BaseMutation):
    """Erase one of your clients at the person's request (R-ENG-4): the client and every delivery, attempt,
    open, click, bounce, consent and unsubscription naming them; only a hash of the address stays, so an
    import skips it. Another owner's ID is NOT_FOUND and changes nothing."""

    class Arguments:
        id = graphene.ID(required=True)

    erased_id = graphene.ID()
    deliveries = graphene.Int(description="Deliveries deleted (the client's and others to the address).")

    @classmethod
    def perform(cls, info, user: User, id):
        client = selectors.client_get(user, pk_from_global_id(id, "Client"))
        erasure = services.client_erase(actor=user, client=client)
        return cls(erased_id=id, deliveries=erasure.deliveries, errors=[])


class ReactivateClient(BaseMutation):
    """Send to one of your bounced clients again (R-DLV-3); a bounce about a message sent before this does
    not mark it again."""

    class Arguments:
        id = graphene.ID(required=True)

    client = graphene.Field(ClientType)

    @classmethod
    def perform(cls, info, user: User, id):
        client = selectors.client_get(user, pk_from_global_id(id, "Client"))
        return cls(client=services.client_reactivate(actor=user, client=client), errors=[])


class ClientRowInput(graphene.InputObjectType):
    email = graphene.String(required=True)
    full_name = graphene.String(default_value="")
    comment = graphene.String(default_value="")
    tags = graphene.List(
        graphene.NonNull(graphene.String), description="Tag names, added to the client; created when new."
    )


ImportResultEnum = graphene.Enum.from_enum(
    services.ImportResult, name="ImportResult", description="What an import did with one row."
)


class ImportRow(graphene.ObjectType):
    line = graphene.Int(required=True, description="The row's line in the file, or its position in `rows`.")
    email = graphene.String(required=True)
    result = graphene.Field(ImportResultEnum, required=True)
    reason = graphene.String(required=True, description="Why it was skipped, or what was filled in; or ''.")
    code = graphene.String(required=True, description="e.g. duplicate_in_file, unchanged, invalid; or ''.")


ClientImportStatusEnum = graphene.Enum.from_enum(
    ClientImportModel.Status, name="ClientImportStatus", description="Where a background import is."
)


class ClientImportType(graphene.ObjectType):
    """A large clients file imported in the background by the scheduler (R-AUD-3), chunk by chunk."""

    class Meta:
        name = "ClientImport"

    id = graphene.ID(required=True)
    file_name = graphene.String(required=True)
    status = graphene.Field(ClientImportStatusEnum, required=True)
    rows_done = graphene.Int(required=True, description="Rows imported so far.")
    rows_total = graphene.Int(description="Rows in the file, once the scheduler has read it; else null.")
    added = graphene.Int(required=True)
    updated = graphene.Int(required=True)
    skipped = graphene.Int(required=True, description="Repeats of an earlier row and unchanged clients.")
    errors = graphene.Int(required=True, description="Invalid rows, skipped.")
    error = graphene.String(required=True, description="Why a failed import failed (nothing imported); ''.")
    error_code = graphene.String(required=True, description="e.g. csv_malformed; or ''.")
    problems = graphene.List(
        graphene.NonNull(ImportRow), required=True, description="The first rows with a reason (at most 100)."
    )
    created_at = graphene.DateTime(required=True)
    started_at = graphene.DateTime()
    finished_at = graphene.DateTime()

    @staticmethod
    def resolve_id(root: ClientImportModel, info) -> str:
        return to_global_id("ClientImport", root.pk)

    @staticmethod
    def resolve_status(root: ClientImportModel, info):
        return root.status

    @staticmethod
    def resolve_problems(root: ClientImportModel, info) -> list[services.ImportRowResult]:
        return [
            services.ImportRowResult(line, email, services.ImportResult(result), reason, code)
            for line, email, result, reason, code in root.problems
        ]


class ImportClients(BaseMutation):
    """Import clients into your list from a CSV file (`file`, sent with the GraphQL multipart request spec)
    or from `rows`; exactly one of the two. Addresses already in the list are updated, invalid rows and
    repeats skipped with their reason; the file or list as a whole is refused (nothing imported) when it
    cannot be read or is too long (`csv_malformed`, `csv_too_large`, `csv_too_many_rows`, ...). A file over
    5 MB or 50,000 rows (up to the server's MAILER_IMPORT_MAX_MB and MAILER_IMPORT_MAX_ROWS) is imported in
    the background: the payload's `clientImport` is set (and `added`, `updated`, `skipped`, `rows` are
    null); follow it with the `clientImport(id)` query. The same file while it is being imported is refused
    (`import_running`)."""

    class Arguments:
        file = Upload(description="A CSV file: email, full name, comment, tags; header optional; UTF-8.")
        rows = graphene.List(graphene.NonNull(ClientRowInput))

    added = graphene.Int()
    updated = graphene.Int()
    skipped = graphene.Int()
    rows = graphene.List(graphene.NonNull(ImportRow), description="One result per row, in order.")
    client_import = graphene.Field(ClientImportType, description="A background import, for a large file.")

    @classmethod
    def perform(cls, info, user: User, file=None, rows=None):
        if (file is None) == (rows is None):
            raise ValidationError(_("Send either a file or rows, not both."), code=ErrorCode.INVALID)
        if file is not None:
            result = services.clients_import_upload(actor=user, upload=file)
            if not isinstance(result, services.ImportReport):
                return cls(client_import=result, errors=[])
            report = result
        else:
            parsed = [
                csv_io.ClientRow(
                    line,
                    row.email,
                    row.full_name or "",
                    row.comment or "",
                    tuple(name.strip() for name in row.tags or () if name.strip()),
                )
                for line, row in enumerate(rows, start=1)
            ]
            report = services.clients_import(actor=user, rows=parsed)
        return cls(
            added=report.added, updated=report.updated, skipped=report.skipped, rows=report.rows, errors=[]
        )


# --- tags -----------------------------------------------------------------------------------------------


def _tag(user: User, global_id: str) -> Tag:
    """One of the user's tags; another owner's, or none at all for a manager, is NOT_FOUND (R-AUTH-4)."""
    return selectors.tags_for(user).get(pk=pk_from_global_id(global_id, "Tag"))


class CreateTag(BaseMutation):
    """Add a tag to your list (R-AUD-2): `duplicate_tag` when you have one of that name in any letter case;
    a manager is refused (FORBIDDEN)."""

    class Arguments:
        input = TagInput(required=True)

    tag = graphene.Field(TagType)

    @classmethod
    def perform(cls, info, user: User, input):
        return cls(tag=services.tag_create(actor=user, data=_tag_data(input)), errors=[])


class UpdateTag(BaseMutation):
    """Rename one of your tags, or make it public or private; mailings and clients keep it."""

    class Arguments:
        id = graphene.ID(required=True)
        input = TagInput(required=True)

    tag = graphene.Field(TagType)

    @classmethod
    def perform(cls, info, user: User, id, input):
        tag = services.tag_update(actor=user, tag=_tag(user, id), data=_tag_data(input))
        return cls(tag=tag, errors=[])


class DeleteTag(BaseMutation):
    """Delete one of your tags (its clients stay); `tag_in_use` while a mailing that is not completed sends to
    it."""

    class Arguments:
        id = graphene.ID(required=True)

    deleted_id = graphene.ID()

    @classmethod
    def perform(cls, info, user: User, id):
        services.tag_delete(actor=user, tag=_tag(user, id))
        return cls(deleted_id=id, errors=[])


class TagClientsArguments:
    id = graphene.ID(required=True, description="The tag.")
    client_ids = graphene.List(
        graphene.NonNull(graphene.ID),
        description=f"Your clients, at most {TAG_CLIENT_IDS_MAX}; any other ID makes the call NOT_FOUND.",
    )
    matching = ClientMatchInput(description="Every client of yours matching, whatever their number.")


def _chosen_clients(user: User, client_ids, matching) -> QuerySet[Client]:
    """The clients a tagClients or untagClients call names: by ID or by search, exactly one of the two."""
    if (client_ids is None) == (matching is None):
        raise ValidationError(_("Send exactly one of clientIds and matching."), code=ErrorCode.INVALID)
    if matching is not None:
        return filtered(selectors.client_list(user, client_filters(matching.search, matching.tag)))
    if len(client_ids) > TAG_CLIENT_IDS_MAX:
        raise ValidationError(
            _("At most %(max)d client IDs at once; use matching for more.") % {"max": TAG_CLIENT_IDS_MAX},
            code=ErrorCode.INVALID,
        )
    pks = set(pks_from_global_ids(client_ids, "Client"))
    clients = selectors.clients_for(user).filter(pk__in=pks)
    if clients.count() != len(pks):
        # Another owner's client, a deleted one or a malformed ID: refused whole, as the pages refuse it.
        raise NotFound()
    return clients


class _ChangeClientsTag(BaseMutation):
    """tagClients and untagClients: the tag, the clients named (`_chosen_clients`), and the service."""

    class Meta:
        abstract = True

    Arguments = TagClientsArguments

    tag = graphene.Field(TagType)
    changed = graphene.Int()

    @classmethod
    def perform(cls, info, user: User, id, client_ids=None, matching=None):
        tag = _tag(user, id)
        clients = _chosen_clients(user, client_ids, matching)
        return cls(tag=tag, changed=cls.change(actor=user, tag=tag, clients=clients), errors=[])


class TagClients(_ChangeClientsTag):
    """Put one of your tags on clients (R-AUD-2): those named by `clientIds`, or every one `matching` a
    search — one statement whatever their number. `changed`: how many carry it now that did not."""

    change = staticmethod(services.clients_tag)


class UntagClients(_ChangeClientsTag):
    """Take one of your tags off clients, named as for tagClients. `changed`: how many no longer carry it."""

    change = staticmethod(services.clients_untag)


# --- messages -------------------------------------------------------------------------------------------


class CreateMessage(BaseMutation):
    """Write a message (R-DATA-2); unknown placeholders are refused (`unknown_placeholder`)."""

    class Arguments:
        input = MessageInput(required=True)

    message = graphene.Field(MessageType)

    @classmethod
    def perform(cls, info, user: User, input):
        return cls(message=services.message_create(actor=user, data=_message_data(input)), errors=[])


class UpdateMessage(BaseMutation):
    """Change one of your messages; a manager is refused (FORBIDDEN)."""

    class Arguments:
        id = graphene.ID(required=True)
        input = MessageInput(required=True)

    message = graphene.Field(MessageType)

    @classmethod
    def perform(cls, info, user: User, id, input):
        message = selectors.message_get(user, pk_from_global_id(id, "Message"))
        return cls(
            message=services.message_update(actor=user, message=message, data=_message_data(input)), errors=[]
        )


class DeleteMessage(BaseMutation):
    """Delete one of your messages; `message_in_use` while a mailing uses it."""

    class Arguments:
        id = graphene.ID(required=True)

    deleted_id = graphene.ID()

    @classmethod
    def perform(cls, info, user: User, id):
        message = selectors.message_get(user, pk_from_global_id(id, "Message"))
        services.message_delete(actor=user, message=message)
        return cls(deleted_id=id, errors=[])


class EmailHeader(graphene.ObjectType):
    name = graphene.String(required=True)
    value = graphene.String(required=True)


class MessagePreview(graphene.ObjectType):
    """One client's email exactly as the sender would build it (placeholders filled, the client's own
    unsubscribe link and headers: R-SEND-9)."""

    subject = graphene.String(required=True)
    text = graphene.String(required=True)
    html = graphene.String(required=True, description="'' when the message has no HTML version.")
    to = graphene.String(required=True)
    from_email = graphene.String(required=True)
    headers = graphene.List(graphene.NonNull(EmailHeader), required=True)

    @staticmethod
    def resolve_headers(root: services.Preview, info) -> list[EmailHeader]:
        return [EmailHeader(name=name, value=value) for name, value in root.headers.items()]


class PreviewMessage(BaseMutation):
    """Show one of your messages as one of your clients would receive it; nothing is sent or stored (a
    mutation, as the issue lists it, so refusals such as `unsendable_address` come back in `errors`). A
    manager reads no message text (R-AUTH-5): another owner's message or client is NOT_FOUND."""

    class Arguments:
        message = graphene.ID(required=True)
        client = graphene.ID(required=True)
        sender = graphene.ID(
            description="One of your sender identities to show it from (R-DLV-1); one that is not usable "
            "shows what would be sent instead: the service's address with your name. Omitted: the same."
        )

    preview = graphene.Field(MessagePreview)

    @classmethod
    def perform(cls, info, user: User, message, client, sender=None):
        found_message = selectors.message_get(user, pk_from_global_id(message, "Message"))
        found_client = selectors.client_get(user, pk_from_global_id(client, "Client"))
        identity = None
        if sender:
            pk = pk_from_global_id(sender, "SenderIdentity")
            identity = selectors.sender_identities_for(user).get(pk=pk)
        preview = services.message_preview(
            actor=user, message=found_message, client=found_client, sender=identity
        )
        return cls(preview=preview, errors=[])


# --- mailings -------------------------------------------------------------------------------------------


class CreateMailing(MailingPayloadMixin, BaseMutation):
    """Schedule a message to clients (R-DATA-3): a start in the past and an end in the future send at once
    (R-SEND-1); `end_before_start`, `end_in_past` and foreign IDs come back per field."""

    class Arguments:
        input = MailingInput(required=True)

    mailing = graphene.Field(MailingType)

    @classmethod
    def perform(cls, info, user: User, input):
        try:
            mailing = services.mailing_create(actor=user, data=_mailing_data(input, user=user))
        except ValidationError as exc:
            return cls(errors=cls.mailing_errors(exc))
        return cls(mailing=mailing, quota_warning=limits.quota_notice(mailing) or None, errors=[])


class UpdateMailing(MailingPayloadMixin, BaseMutation):
    """Change one of your mailings (every field); a manager is refused (FORBIDDEN: R-AUTH-5)."""

    class Arguments:
        id = graphene.ID(required=True)
        input = MailingInput(required=True)

    mailing = graphene.Field(MailingType)

    @classmethod
    def perform(cls, info, user: User, id, input):
        mailing = selectors.mailing_get(user, pk_from_global_id(id, "Mailing"))
        try:
            data = _mailing_data(input, mailing, user=user)
            mailing = services.mailing_update(actor=user, mailing=mailing, data=data)
        except ValidationError as exc:
            return cls(errors=cls.mailing_errors(exc))
        return cls(mailing=mailing, quota_warning=limits.quota_notice(mailing) or None, errors=[])


class DeleteMailing(BaseMutation):
    """Delete one of your mailings with its log; a manager is refused (FORBIDDEN: R-AUTH-5)."""

    class Arguments:
        id = graphene.ID(required=True)

    deleted_id = graphene.ID()

    @classmethod
    def perform(cls, info, user: User, id):
        mailing = selectors.mailing_get(user, pk_from_global_id(id, "Mailing"))
        services.mailing_delete(actor=user, mailing=mailing)
        return cls(deleted_id=id, errors=[])


class SendMailingNow(BaseMutation):
    """Queue a manual occurrence of one of your mailings for now, outside its schedule (the scheduler
    sends it on its next pass). Codes: `mailing_disabled`, `mailing_completed`, `owner_cannot_act`,
    `no_recipients`, `send_in_progress`."""

    class Arguments:
        id = graphene.ID(required=True)

    mailing = graphene.Field(MailingType)
    occurrence_id = graphene.ID(description="The Occurrence's global ID.")
    queued = graphene.Int(description="Deliveries queued (one per subscribed client).")
    quota_warning = graphene.String(description=QUOTA_WARNING)

    @classmethod
    def perform(cls, info, user: User, id):
        mailing = selectors.mailing_get(user, pk_from_global_id(id, "Mailing"))
        # Told before the send is queued: what is left of today's quota, not counting this send.
        warning = limits.quota_notice(mailing, sending_now=True)
        occurrence = services.mailing_send_now(actor=user, mailing=mailing)
        return cls(
            mailing=selectors.mailing_get(user, mailing.pk),
            occurrence_id=to_global_id("Occurrence", occurrence.pk),
            queued=occurrence.deliveries.count(),
            quota_warning=warning or None,
            errors=[],
        )


class MailingSwitch(BaseMutation):
    """One mailing's switch by its ID: pause/resume for its owner, disable/enable for managers; `service`
    decides who may (another owner's mailing is NOT_FOUND, a refused actor FORBIDDEN)."""

    class Meta:
        abstract = True

    class Arguments:
        id = graphene.ID(required=True)

    mailing = graphene.Field(MailingType)

    @staticmethod
    def service(*, actor: User, mailing: Mailing) -> Mailing:
        raise NotImplementedError

    @classmethod
    def perform(cls, info, user: User, id):
        mailing = selectors.mailing_get(user, pk_from_global_id(id, "Mailing"))
        return cls(mailing=cls.service(actor=user, mailing=mailing), errors=[])


class PauseMailing(MailingSwitch):
    """Pause one of your mailings (R-OWN-1): nothing more is claimed; what waits is kept for resumeMailing.
    Pausing a paused mailing changes nothing."""

    service = staticmethod(services.mailing_pause)


class ResumeMailing(MailingSwitch):
    """Resume a paused mailing of yours: what waited is sent, no one twice; of the occurrences missed while
    paused only the current period's. A manager's disable stays (isActive remains false)."""

    service = staticmethod(services.mailing_resume)


class DisableMailing(MailingSwitch):
    """A manager's switch (R-AUTH-5): a disabled mailing is never sent (R-SEND-8); what was waiting is
    skipped. Anyone without the permission is refused (FORBIDDEN)."""

    service = staticmethod(services.mailing_disable)


class EnableMailing(MailingSwitch):
    """Undo disableMailing (managers only): the current period's occurrence is sent, not a backlog."""

    service = staticmethod(services.mailing_enable)
