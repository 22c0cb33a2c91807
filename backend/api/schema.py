"""The GraphQL schema: each area's Query and Mutation mixins, combined (Saleor's layout; STYLE.md)."""

import graphene

from .accounts.schema import AccountsMutation, AccountsQuery
from .core.node import node_field
from .mailings.schema import MailingsMutation, MailingsQuery
from .reports.schema import ReportsMutation, ReportsQuery
from .senders.schema import SendersMutation, SendersQuery
from .signups.schema import SignupsMutation, SignupsQuery


class Query(AccountsQuery, MailingsQuery, ReportsQuery, SendersQuery, SignupsQuery, graphene.ObjectType):
    node = node_field()


class Mutation(
    AccountsMutation, MailingsMutation, ReportsMutation, SendersMutation, SignupsMutation, graphene.ObjectType
):
    pass


schema = graphene.Schema(query=Query, mutation=Mutation)
