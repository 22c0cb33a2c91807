"""The GraphQL schema: each area's Query and Mutation mixins, combined (Saleor's layout; STYLE.md)."""

import graphene

from .accounts.schema import AccountsMutation, AccountsQuery


class Query(AccountsQuery, graphene.ObjectType):
    node = graphene.relay.Node.Field(description="Any object you may see, by its global ID.")


class Mutation(AccountsMutation, graphene.ObjectType):
    pass


schema = graphene.Schema(query=Query, mutation=Mutation)
