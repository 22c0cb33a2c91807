"""What one request may cost. Each refusal is a GraphQL error that says which limit it hit.

Parsing is bounded by the document's size and token count. Before any validation rule runs, the document's
size *with every fragment spread expanded* is counted, each fragment once (memoised), and capped: a small
document of fragments that each spread the next one twice expands to 2^n selections, and every rule that
follows spreads (the depth limit, the item count below) would walk each of them. Past that check every walk is
bounded by the cap, so any document is accepted or refused in milliseconds.

Then the standard rules, a depth limit, and the cost of what the document asks for: aliases and the items
nested lists may return, counted over the expanded document. The cost of every document in one HTTP request
shares one budget (`request_cost_error`), so a batch cannot multiply the limits.
"""

from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import ngettext
from graphene.validation import depth_limit_validator
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
    get_named_type,
)

from .errors import BAD_REQUEST


def max_document_bytes() -> int:
    return settings.GRAPHQL_MAX_DOCUMENT_BYTES


def max_tokens() -> int:
    return settings.GRAPHQL_MAX_TOKENS


def max_batch() -> int:
    return settings.GRAPHQL_MAX_BATCH


def max_page_size() -> int:
    return settings.GRAPHENE["RELAY_CONNECTION_MAX_LIMIT"]


def _error(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": BAD_REQUEST})


def _fragments(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


def expanded_size_error(document: DocumentNode) -> GraphQLError | None:
    """Refuses a document whose definitions, with every fragment spread expanded, hold more than
    GRAPHQL_MAX_SELECTIONS selections (fields, inline fragments and spreads, each 1). Every definition counts,
    a fragment nobody spreads too (the standard rules walk it all the same), and each operation counts its
    spreads again (the depth rule re-walks a chain of spreads for each). Each fragment's size is computed once
    and the count stops as soon as it passes the cap, so this costs time linear in the document's text
    whatever it expands to. A fragment cycle counts nothing here: the standard rules refuse it next."""
    cap = settings.GRAPHQL_MAX_SELECTIONS
    fragments = _fragments(document)
    sizes: dict[str, int] = {}
    open_fragments: set[str] = set()

    def size_of(selection_set: SelectionSetNode, budget: int) -> int:
        total = 0
        for selection in selection_set.selections:
            total += 1
            if isinstance(selection, FieldNode):
                if selection.selection_set is not None:
                    total += size_of(selection.selection_set, budget - total)
            elif isinstance(selection, InlineFragmentNode):
                total += size_of(selection.selection_set, budget - total)
            elif isinstance(selection, FragmentSpreadNode):
                total += fragment_size(selection.name.value, budget - total)
            if total > budget:
                break
        return total

    def fragment_size(name: str, budget: int) -> int:
        if name in sizes:
            return sizes[name]
        fragment = fragments.get(name)
        if fragment is None or name in open_fragments:
            return 0
        open_fragments.add(name)
        size = size_of(fragment.selection_set, budget)
        open_fragments.discard(name)
        if size <= budget:  # a count cut short is a lower bound, not the size
            sizes[name] = size
        return size

    total = 0
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            total += size_of(definition.selection_set, cap - total)
        elif isinstance(definition, FragmentDefinitionNode):
            total += fragment_size(definition.name.value, cap - total)
        if total > cap:
            return _error(
                ngettext(
                    "The document, with its fragments expanded, has more than %(limit)d selection.",
                    "The document, with its fragments expanded, has more than %(limit)d selections.",
                    cap,
                )
                % {"limit": cap}
            )
    return None


def repeated_field_error(document: DocumentNode) -> GraphQLError | None:
    """Refuses a document that asks for one response name (a field's alias, or its name) more than
    GRAPHQL_MAX_FIELD_REPEATS times in one selection, counted as the standard overlap rule sees it: through
    fragments, and with the selections of equally named fields merged. That rule compares every pair of such
    fields, so 2,000 `email`s in 12 KB cost 1.7 s of validation. Run after `expanded_size_error`, so the walk
    visits at most GRAPHQL_MAX_SELECTIONS fields."""
    limit = settings.GRAPHQL_MAX_FIELD_REPEATS
    fragments = _fragments(document)

    aliases = 0

    def collect(selection_set: SelectionSetNode, into: dict[str, list], open_fragments: set[str]) -> None:
        nonlocal aliases
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                aliases += selection.alias is not None
                key = (selection.alias or selection.name).value
                into.setdefault(key, []).append(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                collect(selection.selection_set, into, open_fragments)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in fragments and name not in open_fragments:
                    open_fragments.add(name)
                    collect(fragments[name].selection_set, into, open_fragments)
                    open_fragments.discard(name)

    def repeated(selection_sets: list[SelectionSetNode]) -> str | None:
        fields: dict[str, list] = {}
        for selection_set in selection_sets:
            collect(selection_set, fields, set())
        for key, children in fields.items():
            if len(children) > limit:
                return key
            inner = [child for child in children if child is not None]
            if inner and (found := repeated(inner)) is not None:
                return found
        return None

    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode | FragmentDefinitionNode):
            aliases = 0
            key = repeated([definition.selection_set])
            if key is not None:
                return _error(
                    ngettext(
                        "The document asks for %(field)s more than %(limit)d time in one selection.",
                        "The document asks for %(field)s more than %(limit)d times in one selection.",
                        limit,
                    )
                    % {"field": key, "limit": limit}
                )
            if aliases > settings.GRAPHQL_MAX_ALIASES:  # as the cost count has it, but before validation
                return cost_error(Cost(aliases=aliases))
    return None


# Arguments that say how many items a field returns.
SIZE_ARGUMENTS = ("first", "last", "limit")


@dataclass(frozen=True)
class Cost:
    """What one operation asks for: aliased fields, and the items its nested lists may return (a list's
    page size times the page sizes of the lists around it)."""

    aliases: int = 0
    nodes: int = 0

    def __add__(self, other: "Cost") -> "Cost":
        return Cost(self.aliases + other.aliases, self.nodes + other.nodes)


def operation_cost(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode) -> Cost:
    """The cost of one operation of a valid document, fragments expanded (so an alias inside a fragment
    spread ten times counts ten times). Run after `expanded_size_error`, so the walk is bounded.

    Nested lists multiply: 30 aliases of `mailings(first: 100) { clients(first: 100) { ... } }` ask for
    300,000 clients. Each list with a size argument (`first`, `last`, `limit`) or of a connection type counts
    its size times the sizes of the lists around it; a size that comes from a variable or is left to the
    default counts as the largest page."""
    fragments = _fragments(document)
    aliases = 0

    def count(selection_set: SelectionSetNode, parent_type, multiplier: int) -> int:
        nonlocal aliases
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                if selection.alias is not None:
                    aliases += 1
                field = getattr(parent_type, "fields", {}).get(selection.name.value)
                if field is None:  # __typename and introspection
                    continue
                field_type = get_named_type(field.type)
                size = _size(selection, field_type)
                if size != 1:
                    total += multiplier * size
                if selection.selection_set is not None:
                    total += count(selection.selection_set, field_type, multiplier * size)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = schema.get_type(condition.name.value) if condition else parent_type
                total += count(selection.selection_set, inner, multiplier)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = fragments.get(selection.name.value)
                if fragment is not None:
                    inner = schema.get_type(fragment.type_condition.name.value)
                    total += count(fragment.selection_set, inner, multiplier)
        return total

    nodes = count(operation.selection_set, schema.get_root_type(operation.operation), 1)
    return Cost(aliases=aliases, nodes=nodes)


def _size(node: FieldNode, field_type) -> int:
    for argument in node.arguments or ():
        if argument.name.value in SIZE_ARGUMENTS:
            value = argument.value
            return max(int(value.value), 0) if isinstance(value, IntValueNode) else max_page_size()
    return max_page_size() if field_type.name.endswith("Connection") else 1


def cost_error(cost: Cost, *, batch: bool = False) -> GraphQLError | None:
    """The error for a cost over the limits: of one document, or (`batch`) of every document one HTTP request
    carries together."""
    if cost.aliases > settings.GRAPHQL_MAX_ALIASES:
        limit = settings.GRAPHQL_MAX_ALIASES
        if batch:
            message = ngettext(
                "The documents of this request use more than %(limit)d alias together.",
                "The documents of this request use more than %(limit)d aliases together.",
                limit,
            )
        else:
            message = ngettext(
                "The document uses more than %(limit)d alias.",
                "The document uses more than %(limit)d aliases.",
                limit,
            )
        return _error(message % {"limit": limit})
    if cost.nodes > settings.GRAPHQL_MAX_NODES:
        limit = settings.GRAPHQL_MAX_NODES
        if batch:
            message = ngettext(
                "The documents of this request may return up to %(count)d item together, more than "
                "%(limit)d; send fewer documents or ask for smaller pages (first).",
                "The documents of this request may return up to %(count)d items together, more than "
                "%(limit)d; send fewer documents or ask for smaller pages (first).",
                cost.nodes,
            )
        else:
            message = ngettext(
                "The document may return up to %(count)d item, more than %(limit)d; ask for smaller pages "
                "(first) or fewer nested lists.",
                "The document may return up to %(count)d items, more than %(limit)d; ask for smaller pages "
                "(first) or fewer nested lists.",
                cost.nodes,
            )
        return _error(message % {"count": cost.nodes, "limit": limit})
    return None


def cost_rules() -> list[type[ValidationRule]]:
    return [depth_limit_validator(max_depth=settings.GRAPHQL_MAX_DEPTH)]
