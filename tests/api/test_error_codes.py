"""Error codes: one enum per app (mailings/errors.py, accounts/errors.py), every raise uses it, and the API
exposes every code a payload can carry as the GraphQL enum `ErrorCode`, each value spelt as before."""

import ast
import logging
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

import backend
from backend.accounts.errors import ErrorCode as AccountsErrorCode
from backend.accounts.forms import BlockReasonForm, EmailAuthenticationForm
from backend.accounts.models import User
from backend.api.core.errors import ERROR_CODES, FieldCode, errors_from
from backend.api.schema import schema
from backend.mailings.errors import ErrorCode as MailingsErrorCode
from backend.mailings.forms import ClientForm, MailingForm, MessageForm, TagForm

BACKEND = Path(backend.__file__).parent
SCHEMA_FILE = BACKEND.parent / "graphql" / "schema.graphql"


def schema_enum_values() -> set[str]:
    return set(schema.graphql_schema.get_type("ErrorCode").values)


def test_every_app_code_is_a_value_of_the_graphql_enum_spelt_as_the_domain_spells_it():
    values = schema_enum_values()
    assert {str(code) for code in MailingsErrorCode} <= values
    assert {str(code) for code in AccountsErrorCode} <= values
    assert {str(code) for code in FieldCode} <= values
    assert values == set(ERROR_CODES)
    # The exported SDL says the same (test_operations compares the file with the schema as a whole).
    sdl = SCHEMA_FILE.read_text()
    block = sdl[sdl.index("enum ErrorCode {") :]
    listed = block[block.index("{") + 1 : block.index("}")].split()
    assert set(listed) == values


def form_codes(form) -> set[str]:
    """Every code the form's fields can report: the form field's error messages and validators, and those
    of the model field behind it."""
    codes = set()
    for name, field in form.fields.items():
        codes |= set(field.error_messages) | {validator.code for validator in field.validators}
        model = getattr(getattr(form, "_meta", None), "model", None)
        if model is not None and name not in form.declared_fields:
            model_field = model._meta.get_field(name)
            codes |= set(model_field.error_messages)
            codes |= {getattr(validator, "code", "invalid") for validator in model_field.validators}
    return codes


def test_every_code_a_form_behind_a_mutation_can_report_is_in_the_enum():
    owner = User(pk=1)
    forms = [
        ClientForm(owner=owner),
        MessageForm(owner=owner),
        MailingForm(owner=owner),
        TagForm(owner=owner),
        BlockReasonForm(),
        EmailAuthenticationForm(None),
    ]
    codes = set().union(*(form_codes(form) for form in forms))
    assert "max_length" in codes and "invalid_pk_value" in codes  # the introspection sees Django's codes
    # "null": a model field's error for None, which a required form field never lets through; GraphQL
    # cannot name an enum value "null" either. "invalid_nullable": a model BooleanField's error for a value
    # that is not a boolean, which the form's BooleanField never passes on (it makes every value a bool).
    assert codes - {"null", "invalid_nullable"} <= schema_enum_values()


def literal_codes(path: Path) -> list[int]:
    """The line of every ValidationError raised with a string literal as its code."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if name != "ValidationError":
            continue
        for keyword in node.keywords:
            if keyword.arg == "code" and isinstance(keyword.value, ast.Constant):
                found.append(node.lineno)
    return found


@pytest.mark.parametrize("app", ["mailings", "accounts", "api", "web"])
def test_every_raise_of_a_code_uses_the_enum(app):
    found = [
        f"{path.relative_to(BACKEND.parent)}:{line}"
        for path in sorted((BACKEND / app).rglob("*.py"))
        for line in literal_codes(path)
    ]
    assert found == []


def test_the_literal_code_check_finds_one(tmp_path):
    module = tmp_path / "module.py"
    module.write_text(
        "raise ValidationError('No.', code='nope')\n"
        "raise forms.ValidationError('No.', code=ErrorCode.X)\n"
        "raise forms.ValidationError('No.', code=refusal)\n"
        "result = classify(code='421')\n"
    )
    assert literal_codes(module) == [1]


def test_a_code_missing_from_the_enum_is_reported_as_invalid_and_logged(caplog):
    with caplog.at_level(logging.WARNING, logger="backend.api"):
        [error] = errors_from(ValidationError("Odd.", code="not_a_known_code"))
    assert error.code == "invalid"
    assert "not_a_known_code" in caplog.text
    [error] = errors_from(ValidationError("In use.", code=MailingsErrorCode.MESSAGE_IN_USE))
    assert error.code == "message_in_use"
