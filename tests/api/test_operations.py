"""The operations the pages and the manager dashboard send (graphql/operations/*.graphql) are valid against
the schema, within the endpoint's cost limits (R-API-2). Every file in the folder is checked,
so a new one (the dashboard's manager*.graphql) is covered the moment it is added."""

from pathlib import Path

import pytest
from graphql import parse, validate

from backend.api.core.limits import cost_rules
from backend.api.schema import schema

OPERATIONS = Path(__file__).resolve().parents[2] / "graphql" / "operations"
FILES = sorted(OPERATIONS.glob("*.graphql"))


def test_the_pages_operations_are_there_and_graphql_holds_no_python_R_API_2():
    names = {path.name for path in FILES}
    assert {"mailingProgress.graphql", "mailingReport.graphql", "dashboard.graphql"} <= names
    python = [path for path in OPERATIONS.parent.rglob("*") if path.suffix in {".py", ".pyc"}]
    assert python == []


@pytest.mark.parametrize("path", FILES, ids=[path.name for path in FILES])
def test_operation_is_valid_against_the_schema_R_API_2(path):
    document = parse(path.read_text(encoding="utf-8"))
    errors = validate(schema.graphql_schema, document)
    assert not errors, [error.message for error in errors]
    errors = validate(schema.graphql_schema, document, cost_rules())
    assert not errors, [error.message for error in errors]
    names = [definition.name for definition in document.definitions if hasattr(definition, "operation")]
    assert names and all(name is not None for name in names), "every operation is named"
