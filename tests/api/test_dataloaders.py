"""The loaders' execution (backend/api/core/dataloaders.py): keys asked at one level are loaded in one batch,
values are cached per operation, and a loader's failure is a field error with graphql-core's own rules: null
for a nullable field, the nearest nullable parent nulled for a non-null one."""

from types import SimpleNamespace

import graphene
from graphql import execute, parse

from backend.api.core.dataloaders import DataLoader, LoaderExecutionContext

BATCHES: list[list[int]] = []


class Square(DataLoader[int, int]):
    def batch_load(self, keys):
        BATCHES.append(list(keys))
        return [key * key for key in keys]


class Broken(DataLoader[int, int]):
    def batch_load(self, keys):
        raise RuntimeError("the database went away")


class Item(graphene.ObjectType):
    n = graphene.Int(required=True)
    square = graphene.Int(required=True)
    square_plus_one = graphene.Int(required=True)
    child = graphene.Field(lambda: Item)
    broken = graphene.Int()
    broken_required = graphene.Int(required=True)
    plus = graphene.Int(required=True, by=graphene.Int(required=True))
    first_of = graphene.Int(
        required=True, values=graphene.List(graphene.NonNull(graphene.Int), required=True)
    )

    @staticmethod
    def resolve_n(root, info):
        return root

    @staticmethod
    def resolve_square(root, info):
        return Square.of(info).load(root)

    @staticmethod
    def resolve_square_plus_one(root, info):
        return Square.of(info).load(root).then(lambda value: value + 1)

    @staticmethod
    def resolve_child(root, info):
        return Square.of(info).load(root)

    @staticmethod
    def resolve_broken(root, info):
        return Broken.of(info).load(root)

    @staticmethod
    def resolve_broken_required(root, info):
        return Broken.of(info).load(root)

    @staticmethod
    def resolve_plus(root, info, by):
        return root + by

    @staticmethod
    def resolve_first_of(root, info, values):
        first = values[0]
        values.append(root)  # a resolver changing its argument must not change the next row's
        return first


class Query(graphene.ObjectType):
    items = graphene.List(Item, count=graphene.Int(required=True))

    @staticmethod
    def resolve_items(root, info, count):
        return list(range(1, count + 1))


SCHEMA = graphene.Schema(query=Query).graphql_schema


def run(query: str, variables: dict | None = None):
    BATCHES.clear()
    return execute(
        SCHEMA,
        parse(query),
        context_value=SimpleNamespace(user=None),
        variable_values=variables,
        execution_context_class=LoaderExecutionContext,
    )


def test_keys_of_one_level_are_loaded_in_one_batch_and_cached():
    result = run("{ items(count: 3) { n square squarePlusOne child { n square } } }")
    assert result.errors is None
    assert result.data == {
        "items": [
            {"n": 1, "square": 1, "squarePlusOne": 2, "child": {"n": 1, "square": 1}},
            {"n": 2, "square": 4, "squarePlusOne": 5, "child": {"n": 4, "square": 16}},
            {"n": 3, "square": 9, "squarePlusOne": 10, "child": {"n": 9, "square": 81}},
        ]
    }
    # One batch per level; a key asked again (1, under the first child) comes from the cache.
    assert BATCHES == [[1, 2, 3], [4, 9]]


def test_a_failing_load_nulls_a_nullable_field_and_reports_where():
    result = run("{ items(count: 2) { n broken } }")
    assert result.data == {"items": [{"n": 1, "broken": None}, {"n": 2, "broken": None}]}
    assert [error.path for error in result.errors] == [["items", 0, "broken"], ["items", 1, "broken"]]
    assert all(error.message == "the database went away" for error in result.errors)


def test_a_failing_load_of_a_non_null_field_nulls_the_nearest_nullable_parent():
    result = run("{ items(count: 2) { n child { n brokenRequired } } }")
    assert result.data == {"items": [{"n": 1, "child": None}, {"n": 2, "child": None}]}
    assert [error.path for error in result.errors] == [
        ["items", 0, "child", "brokenRequired"],
        ["items", 1, "child", "brokenRequired"],
    ]


def test_every_row_gets_the_fields_arguments_as_asked():
    """Arguments are read once per field for all the rows; a list argument is read again for each row, so
    a resolver that changes it does not change what the next row gets."""
    query = (
        "query($by: Int!) { items(count: 3) { plus(by: $by) again: plus(by: 10) firstOf(values: [7, 8]) } }"
    )
    result = run(query, {"by": 100})
    assert result.errors is None
    assert result.data == {"items": [{"plus": 100 + n, "again": 10 + n, "firstOf": 7} for n in (1, 2, 3)]}
    again = run(query, {"by": 5})
    assert [item["plus"] for item in again.data["items"]] == [6, 7, 8]


def test_a_bad_argument_is_an_error_of_each_row_not_a_crash():
    """As graphql-core has it (validation would have refused the document first): each row's field fails,
    and its nearest nullable parent, the row, is null."""
    result = run('{ items(count: 2) { n plus(by: "x") } }')
    assert result.data == {"items": [None, None]}
    assert [error.path for error in result.errors] == [["items", 0, "plus"], ["items", 1, "plus"]]
