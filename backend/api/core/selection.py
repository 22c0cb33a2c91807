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
        names = memo[key] = frozenset(
            child.name.value
            for field in info.field_nodes
            if field.selection_set is not None
            for child in _selections(info, field.selection_set, info.fragments, set())
        )
    return names


def selects_any(info, names: tuple[str, ...]) -> bool:
    """Does the field being resolved select any of `names` (camelCase) directly?"""
    return not selected(info).isdisjoint(names)
