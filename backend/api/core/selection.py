"""What a query selects, so that a field loads only what the query reads: fragments and inline
fragments are followed, each named fragment once."""

from collections.abc import Iterator

from graphql import FieldNode, FragmentSpreadNode, InlineFragmentNode


def _selections(info, selection_set, fragments, seen) -> Iterator[FieldNode]:
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            yield selection
        elif isinstance(selection, InlineFragmentNode):
            yield from _selections(info, selection.selection_set, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
            seen.add(selection.name.value)
            yield from _selections(info, fragments[selection.name.value].selection_set, fragments, seen)


def selected(info) -> frozenset[str]:
    """The names (camelCase) the field being resolved selects directly. Worked out once per field of the
    operation, however many rows resolve it (the operation's loaders keep the answer)."""
    memo = info.context.dataloaders.memo
    key = ("selected", *map(id, info.field_nodes))
    names = memo.get(key)
    if names is None:
        names = memo[key] = frozenset(child.name.value for child in children(info, info.field_nodes))
    return names


def selects_any(info, names: tuple[str, ...]) -> bool:
    """Does the field being resolved select any of `names` (camelCase) directly?"""
    return not selected(info).isdisjoint(names)


def fields_at(info, path: tuple[str, ...]) -> list[FieldNode]:
    """The fields (every alias of them) reached from the field being resolved by following `path`, field
    names in camelCase: `("edges", "node")` gives a connection's rows as the query selects them. Worked out
    once per field of the operation."""
    memo = info.context.dataloaders.memo
    key = ("fields_at", path, *map(id, info.field_nodes))
    found = memo.get(key)
    if found is None:
        found = list(info.field_nodes)
        for name in path:
            found = [child for child in children(info, found) if child.name.value == name]
        memo[key] = found
    return found


def children(info, fields: list[FieldNode]) -> list[FieldNode]:
    """The fields `fields` select directly, fragments followed."""
    return [
        child
        for field in fields
        if field.selection_set is not None
        for child in _selections(info, field.selection_set, info.fragments, set())
    ]
