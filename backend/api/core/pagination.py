"""Connections: cursor pagination with `totalCount` and a page size capped at GRAPHENE's
RELAY_CONNECTION_MAX_LIMIT (asking for more is an error, not a silent cut). What the page's nodes need
beyond their rows comes from the operation's loaders (`dataloaders`), so a page costs the same number of
queries for 5 nodes as for 100."""

from contextvars import ContextVar
from functools import partial

import graphene
from django.db.models import Manager, QuerySet
from django.utils.translation import gettext as _
from graphene.relay.connection import connection_adapter, page_info_adapter
from graphene_django.fields import DjangoConnectionField
from graphene_django.utils import maybe_queryset
from graphql_relay import (
    connection_from_array_slice,
    cursor_to_offset,
    get_offset_with_default,
    offset_to_cursor,
)

from .errors import BAD_REQUEST, graphql_error
from .limits import max_page_size
from .selection import selects_any


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


# Whether the connection being resolved must know the list's length: only `totalCount` and `pageInfo`
# need it (graphene-django counts every list it pages). Set around one field's resolution, which is
# synchronous: a queryset resolver returns the page, never a promise.
_length_needed: ContextVar[bool] = ContextVar("length_needed", default=True)


def _as_resolved(connection, iterable, info, args):
    # graphene-django pages the model's whole default manager when a resolver returns None: a scoped field
    # would then list every row, unscoped. Refused instead (an internal error, no data).
    if isinstance(iterable, Manager):
        raise TypeError(f"The resolver of the scoped field {info.field_name} returned no rows to page.")
    return iterable


class PageConnectionField(DjangoConnectionField):
    """DjangoConnectionField with the page-size check, run before the field's resolver, and no
    `COUNT(*)` for a page whose `totalCount` and `pageInfo` nobody asked for. The resolver (or, without
    one, the node type's `get_queryset`) must start from an owner-scoped selector; the node type's
    `get_queryset` then narrows the rows again, unless the field is `scoped`: its resolver's rows are
    exactly the ones to list, and the type's `get_queryset` only scopes (adds nothing a row needs)."""

    def __init__(self, *args, scoped: bool = False, **kwargs) -> None:
        self.scoped = scoped
        super().__init__(*args, **kwargs)

    def get_queryset_resolver(self):
        if self.scoped:
            return _as_resolved
        return super().get_queryset_resolver()

    def wrap_resolve(self, parent_resolver):
        # graphene's hook for the function that resolves a field; graphene-django's own (the connection
        # resolver) asserts on a page size instead of answering with an error the client can read.
        resolve = super().wrap_resolve(parent_resolver)

        def checked(root, info, **args):
            check_page_args(args)
            token = _length_needed.set(selects_any(info, ("totalCount", "pageInfo")))
            try:
                return resolve(root, info, **args)
            finally:
                _length_needed.reset(token)

        return checked

    @classmethod
    def resolve_connection(cls, connection, args, iterable, max_limit=None):
        iterable = maybe_queryset(iterable)
        if _length_needed.get() or args.get("last") is not None or not isinstance(iterable, QuerySet):
            return super().resolve_connection(connection, args, iterable, max_limit=max_limit)
        # The same edges as graphene-django's (offset read as an `after` cursor, `first` defaulting to the
        # limit), from the page's rows alone: the list's length is taken to end with the page.
        offset = args.pop("offset", None)
        if offset:
            after = args.get("after")
            args["after"] = offset_to_cursor(offset - 1 + (cursor_to_offset(after) + 1 if after else 0))
        if args.get("first") is None:
            args["first"] = max_limit
        start = get_offset_with_default(args.get("after"), -1) + 1
        end = start + args["first"]
        if args.get("before") is not None:
            end = min(end, get_offset_with_default(args["before"], end))
        page = list(iterable[start:end]) if end > start else []
        result = connection_from_array_slice(
            page,
            args,
            slice_start=start,
            array_length=start + len(page),
            array_slice_length=len(page),
            connection_type=partial(connection_adapter, connection),
            edge_type=connection.Edge,
            page_info_type=page_info_adapter,
        )
        result.iterable = iterable
        result.length = start + len(page)
        return result
