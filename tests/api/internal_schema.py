"""A schema with a resolver that fails unexpectedly (the view must mask it) and a recursive type (the depth
limit must stop it), served by the real view."""

import graphene
from django.db import connection
from django.urls import path

from backend.api.core.views import MailerGraphQLView


class Nested(graphene.ObjectType):
    value = graphene.Int()
    child = graphene.Field(lambda: Nested)

    @staticmethod
    def resolve_child(root, info):
        return {"value": 1}


class Query(graphene.ObjectType):
    broken = graphene.String()
    nested = graphene.Field(Nested)

    @staticmethod
    def resolve_nested(root, info):
        return {"value": 0}

    @staticmethod
    def resolve_broken(root, info):
        # A real database error, with SQL in its message.
        with connection.cursor() as cursor:
            cursor.execute("SELECT secret_column FROM no_such_table_xyz")
        return "unreachable"


schema = graphene.Schema(query=Query)
urlpatterns = [path("graphql/", MailerGraphQLView.as_view(schema=schema))]
