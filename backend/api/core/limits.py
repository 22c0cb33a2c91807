"""What one request may cost (issue 10 §7). Each refusal is a GraphQL error that says which limit it hit.

Parsing is bounded by the document's size and token count; validation adds a depth limit, a cap on
aliases and a cap on the items nested lists may return, run only on documents that already passed the
standard rules (graphene's depth crawler follows fragment spreads and would recurse forever on a fragment
cycle that those rules reject).
"""

from django.conf import settings
from django.utils.translation import ngettext
from graphene.validation import depth_limit_validator
from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    ValidationRule,
    get_named_type,
)


def max_document_bytes() -> int:
    return settings.GRAPHQL_MAX_DOCUMENT_BYTES


def max_tokens() -> int:
    return settings.GRAPHQL_MAX_TOKENS


def max_batch() -> int:
    return settings.GRAPHQL_MAX_BATCH


def max_page_size() -> int:
    return settings.GRAPHENE["RELAY_CONNECTION_MAX_LIMIT"]


class AliasLimit(ValidationRule):
    """Aliases let one small document ask for the same expensive field thousands of times."""

    def __init__(self, context) -> None:
        super().__init__(context)
        self.count = 0
        self.reported = False

    def enter_field(self, node: FieldNode, *_args) -> None:
        if node.alias is None or self.reported:
            return
        self.count += 1
        if self.count > settings.GRAPHQL_MAX_ALIASES:
            self.reported = True
            self.report_error(
                GraphQLError(
                    ngettext(
                        "The document uses more than %(limit)d alias.",
                        "The document uses more than %(limit)d aliases.",
                        settings.GRAPHQL_MAX_ALIASES,
                    )
                    % {"limit": settings.GRAPHQL_MAX_ALIASES},
                    node,
                    extensions={"code": "BAD_REQUEST"},
                )
            )


# Arguments that say how many items a field returns.
SIZE_ARGUMENTS = ("first", "last", "limit")


class NodeLimit(ValidationRule):
    """Depth, aliases and page size are each capped, but nested lists multiply: 30 aliases of
    `mailings(first: 100) { clients(first: 100) { edges { node { email } } } }` ask for 300,000 clients (9 s
    and 16 MB in one request). Each list with a size argument (`first`, `last`, `limit`) or of a connection
    type counts its size times the sizes of the lists around it; a size that comes from a variable or is
    left to the default counts as the largest page. The document's total is capped."""

    def enter_operation_definition(self, node: OperationDefinitionNode, *_args) -> None:
        root = self.context.schema.get_root_type(node.operation)
        total = self._count(node.selection_set, root, 1, set())
        limit = settings.GRAPHQL_MAX_NODES
        if total > limit:
            self.report_error(
                GraphQLError(
                    ngettext(
                        "The document may return up to %(count)d item, more than %(limit)d; ask for "
                        "smaller pages (first) or fewer nested lists.",
                        "The document may return up to %(count)d items, more than %(limit)d; ask for "
                        "smaller pages (first) or fewer nested lists.",
                        total,
                    )
                    % {"count": total, "limit": limit},
                    node,
                    extensions={"code": "BAD_REQUEST"},
                )
            )

    def _count(self, selection_set, parent_type, multiplier: int, spread: set[str]) -> int:
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                field = getattr(parent_type, "fields", {}).get(selection.name.value)
                if field is None:  # __typename and introspection
                    continue
                field_type = get_named_type(field.type)
                size = _size(selection, field_type)
                if size != 1:
                    total += multiplier * size
                if selection.selection_set is not None:
                    total += self._count(selection.selection_set, field_type, multiplier * size, spread)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self.context.schema.get_type(condition.name.value) if condition else parent_type
                total += self._count(selection.selection_set, inner, multiplier, spread)
            elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in spread:
                fragment = self.context.get_fragment(selection.name.value)
                if fragment is not None:
                    inner = self.context.schema.get_type(fragment.type_condition.name.value)
                    total += self._count(
                        fragment.selection_set, inner, multiplier, spread | {selection.name.value}
                    )
        return total


def _size(node: FieldNode, field_type) -> int:
    for argument in node.arguments or ():
        if argument.name.value in SIZE_ARGUMENTS:
            value = argument.value
            return max(int(value.value), 0) if isinstance(value, IntValueNode) else max_page_size()
    return max_page_size() if field_type.name.endswith("Connection") else 1


def cost_rules() -> list[type[ValidationRule]]:
    return [depth_limit_validator(max_depth=settings.GRAPHQL_MAX_DEPTH), AliasLimit, NodeLimit]
