"""The root `node(id:)` field, forgiving about the ID: a malformed ID, an unknown type and another owner's
object all answer null, like a missing one (R-AUTH-4). Each type's `get_node` goes through its
`get_queryset`, which every type scopes with the owner-scoped selectors."""

import graphene
from graphql_relay import from_global_id


def resolve_node(root, info, id: str):
    try:
        type_name, raw_pk = from_global_id(id)
        pk = int(raw_pk)
    except (TypeError, ValueError, UnicodeDecodeError):
        return None
    schema_type = info.schema.get_type(type_name)
    graphene_type = getattr(schema_type, "graphene_type", None)
    if graphene_type is None or graphene.relay.Node not in getattr(graphene_type._meta, "interfaces", ()):
        return None
    return graphene_type.get_node(info, pk)


def node_field() -> graphene.Field:
    return graphene.Field(
        graphene.relay.Node,
        id=graphene.ID(required=True, description="A global ID."),
        description="Any object you may see, by its global ID; null for anything else.",
        resolver=resolve_node,
    )
