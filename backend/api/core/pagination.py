"""Connections: cursor pagination with `totalCount` and a page size capped at GRAPHENE's
RELAY_CONNECTION_MAX_LIMIT (asking for more is an error, not a silent cut). What the page's nodes need
beyond their rows comes from the operation's loaders (`dataloaders`), so a page costs the same number of
queries for 5 nodes as for 100."""

import graphene
from django.utils.translation import gettext as _
from graphene_django.fields import DjangoConnectionField
from graphql_relay import cursor_to_offset

from .errors import BAD_REQUEST, graphql_error
from .limits import max_page_size


class CountableConnection(graphene.relay.Connection):
    class Meta:
        abstract = True

    total_count = graphene.Int(required=True, description="Items matching the filters, on every page.")

    @staticmethod
    def resolve_total_count(root, info) -> int:
        return root.length


def check_page_args(args: dict) -> None:
    limit = max_page_size()
    for name in ("first", "last"):
        value = args.get(name)
        if value is not None and not 0 <= value <= limit:
            raise graphql_error(
                _("%(name)s must be between 0 and %(limit)d (got %(value)d).")
                % {"name": name, "limit": limit, "value": value},
                BAD_REQUEST,
            )
    offset = args.get("offset")
    if offset is not None and offset < 0:
        raise graphql_error(_("offset must not be negative."), BAD_REQUEST)
    for name in ("after", "before"):
        cursor = args.get(name)
        # Refused, not read as the start (graphene-django's default): a forged negative offset would reach
        # the queryset as a negative slice, and a client would loop on a cursor that restarts the list.
        position = cursor_to_offset(cursor) if cursor is not None else 0
        if position is None or position < 0:
            raise graphql_error(_("%(name)s is not a cursor of this list.") % {"name": name}, BAD_REQUEST)


class PageConnectionField(DjangoConnectionField):
    """DjangoConnectionField with the page-size check, run before the field's resolver. The resolver (or,
    without one, the node type's `get_queryset`) must start from an owner-scoped selector."""

    def wrap_resolve(self, parent_resolver):
        # graphene's hook for the function that resolves a field; graphene-django's own (the connection
        # resolver) asserts on a page size instead of answering with an error the client can read.
        resolve = super().wrap_resolve(parent_resolver)

        def checked(root, info, **args):
            check_page_args(args)
            return resolve(root, info, **args)

        return checked
