"""Queries and mutations on clients, messages and mailings.

Every root field starts from an owner-scoped selector (R-AUTH-4, R-AUTH-5):
- `clients` / `tags` / `messages`: `clients_for` / `tags_for` / `messages_for`, the caller's own. A manager
  keeps no lists, so theirs are empty, exactly as on the pages (which refuse managers outright).
- `mailings`: the caller's own mailings, also for a manager or a superuser.
- `allMailings`: every mailing the caller may see (`mailings_for`): all of them for a manager or superuser,
  with their owners; for an owner the same list as `mailings` (no error, nothing more).
- `mailing(id)`: `selectors.mailing_get`; another owner's ID is NOT_FOUND, like a missing one.
"""

import graphene

from backend.mailings import gdpr, selectors

from ..core.auth import require_user
from ..core.ids import pk_from_global_id
from ..core.inputs import filter_args, filtered
from ..core.pagination import PageConnectionField
from .mutations import (
    ClientImportType,
    CreateClient,
    CreateMailing,
    CreateMessage,
    CreateTag,
    DeleteClient,
    DeleteMailing,
    DeleteMessage,
    DeleteTag,
    DisableMailing,
    EnableMailing,
    EraseClient,
    ImportClients,
    PauseMailing,
    PreviewMessage,
    ReactivateClient,
    ResumeMailing,
    SendMailingNow,
    TagClients,
    UntagClients,
    UpdateClient,
    UpdateMailing,
    UpdateMessage,
    UpdateTag,
    client_filters,
)
from .types import (
    ClientOrder,
    ClientType,
    MailingOrder,
    MailingPeriodicity,
    MailingStatus,
    MailingType,
    MessageOrder,
    MessageType,
    TagOrder,
    TagType,
    list_figures,
    ordered,
)


def _mailing_args() -> dict:
    """The arguments `mailings` and `allMailings` share: MailingFilter's fields and the sort order."""
    return {
        "status": graphene.Argument(MailingStatus),
        "periodicity": graphene.Argument(MailingPeriodicity),
        "active": graphene.Boolean(description="true: not disabled; false: disabled by a manager."),
        "order_by": graphene.Argument(
            graphene.NonNull(MailingOrder), default_value=MailingOrder.CREATED_DESC.value
        ),
    }


def _mailings(info, order_by, args: dict, *, every_visible: bool):
    """`mailings` and `allMailings`: the filter arguments are MailingFilter's fields, the rest is paging;
    the rows carry the figures the query asks of them (`list_figures`)."""
    user = require_user(info)
    names = ("status", "periodicity", "active", "owner_search")
    found = selectors.mailing_list(
        user, filter_args(**{name: args.get(name) for name in names}), every_visible=every_visible
    )
    # A list shows the message's subject only: its text would be read and thrown away for every row. The
    # rows of one's own list need not carry their owner: it is the user (MailingType.resolve_owner).
    mailings = filtered(found).defer("message__body", "message__html_body")
    if not every_visible:
        mailings = mailings.select_related(None).select_related("message")
    mailings = selectors.with_list_figures(mailings, user, **list_figures(info))
    return ordered(mailings, order_by, MailingOrder.CREATED_DESC.value)


class MailingsQuery(graphene.ObjectType):
    clients = PageConnectionField(
        ClientType,
        search=graphene.String(description="Part of the email or the full name, any letter case."),
        tag=graphene.ID(description="Only the clients carrying this tag (R-AUD-2)."),
        bounced=graphene.Boolean(description="Only the bounced clients (true) or the others (false)."),
        order_by=graphene.Argument(graphene.NonNull(ClientOrder), default_value=ClientOrder.FULL_NAME.value),
        description="Your clients (a manager has none: R-AUTH-5).",
    )
    tags = PageConnectionField(
        TagType,
        search=graphene.String(description="Part of the name, any letter case."),
        order_by=graphene.Argument(graphene.NonNull(TagOrder), default_value=TagOrder.NAME.value),
        description="Your tags with their sizes (a manager has none: R-AUTH-5).",
    )
    messages = PageConnectionField(
        MessageType,
        search=graphene.String(description="Part of the subject or the text, any letter case."),
        order_by=graphene.Argument(
            graphene.NonNull(MessageOrder), default_value=MessageOrder.UPDATED_DESC.value
        ),
        description="Your messages (a manager has none: R-AUTH-5).",
    )
    # Both start from the mailing selectors (mailing_list), which is all MailingType.get_queryset does.
    mailings = PageConnectionField(
        MailingType, **_mailing_args(), scoped=True, description="Your own mailings."
    )
    all_mailings = PageConnectionField(
        MailingType,
        **_mailing_args(),
        scoped=True,
        owner_search=graphene.String(description="Part of the owner's email or name."),
        description="Every mailing you may see, with its owner: all of them for a manager (R-AUTH-5); "
        "your own for anyone else.",
    )
    mailing = graphene.Field(
        MailingType,
        id=graphene.ID(required=True),
        description="One mailing you may see; NOT_FOUND for a missing one and for another owner's.",
    )

    client_import = graphene.Field(
        ClientImportType,
        id=graphene.ID(required=True),
        description="One of your background imports (R-AUD-3); NOT_FOUND for another owner's.",
    )

    client_export = graphene.String(
        id=graphene.ID(required=True),
        description="Everything Mailer holds about one of your clients (R-ENG-4), as one JSON document: "
        "fields, tags, consents, deliveries with their attempts, opens and clicks, bounces, the "
        "unsubscription; times in ISO 8601 UTC. NOT_FOUND for another owner's client.",
    )

    @staticmethod
    def resolve_client_export(root, info, id):
        client = selectors.client_get(require_user(info), pk_from_global_id(id, "Client"))
        return "".join(gdpr.client_export(client))

    @staticmethod
    def resolve_client_import(root, info, id):
        return selectors.client_import_get(require_user(info), pk_from_global_id(id, "ClientImport"))

    @staticmethod
    def resolve_clients(root, info, search=None, tag=None, bounced=None, order_by=None, **_page):
        clients = filtered(selectors.client_list(require_user(info), client_filters(search, tag, bounced)))
        return ordered(clients, order_by, ClientOrder.FULL_NAME.value)

    @staticmethod
    def resolve_tags(root, info, search=None, order_by=None, **_page):
        tags = filtered(selectors.tag_list(require_user(info), filter_args(search=search)))
        return ordered(tags, order_by, TagOrder.NAME.value)

    @staticmethod
    def resolve_messages(root, info, search=None, order_by=None, **_page):
        messages = filtered(selectors.message_list(require_user(info), filter_args(search=search)))
        return ordered(messages, order_by, MessageOrder.UPDATED_DESC.value)

    @staticmethod
    def resolve_mailings(root, info, order_by=None, **args):
        return _mailings(info, order_by, args, every_visible=False)

    @staticmethod
    def resolve_all_mailings(root, info, order_by=None, **args):
        return _mailings(info, order_by, args, every_visible=True)

    @staticmethod
    def resolve_mailing(root, info, id):
        return selectors.mailing_get(require_user(info), pk_from_global_id(id, "Mailing"))


class MailingsMutation(graphene.ObjectType):
    create_client = CreateClient.Field()
    update_client = UpdateClient.Field()
    delete_client = DeleteClient.Field()
    reactivate_client = ReactivateClient.Field()
    erase_client = EraseClient.Field()
    import_clients = ImportClients.Field()
    create_tag = CreateTag.Field()
    update_tag = UpdateTag.Field()
    delete_tag = DeleteTag.Field()
    tag_clients = TagClients.Field()
    untag_clients = UntagClients.Field()
    create_message = CreateMessage.Field()
    update_message = UpdateMessage.Field()
    delete_message = DeleteMessage.Field()
    preview_message = PreviewMessage.Field()
    create_mailing = CreateMailing.Field()
    update_mailing = UpdateMailing.Field()
    delete_mailing = DeleteMailing.Field()
    send_mailing_now = SendMailingNow.Field()
    pause_mailing = PauseMailing.Field()
    resume_mailing = ResumeMailing.Field()
    disable_mailing = DisableMailing.Field()
    enable_mailing = EnableMailing.Field()
