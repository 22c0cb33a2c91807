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


def selects_any(info, names: tuple[str, ...]) -> bool:
    """Does the field being resolved select any of `names` (camelCase) directly?"""
    return any(
        child.name.value in names
        for field in info.field_nodes
        if field.selection_set is not None
        for child in _selections(info, field.selection_set, info.fragments, set())
    )
