"""`python manage.py csu` creates or updates the superuser (R-AUTH-7)."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from tests.helpers import run_manage

User = get_user_model()
pytestmark = pytest.mark.django_db


def test_creates_superuser_from_environment(monkeypatch):
    monkeypatch.setenv("CSU_EMAIL", "Boss@Example.com")
    monkeypatch.setenv("CSU_PASSWORD", "first-Passw0rd")
    call_command("csu")
    boss = User.objects.get()
    assert boss.email == "Boss@example.com"
    assert boss.is_superuser and boss.is_staff and boss.is_active and boss.email_verified
    assert boss.check_password("first-Passw0rd")


def test_is_idempotent_and_updates_the_password(monkeypatch):
    call_command("csu", email="boss@example.com", password="first-Passw0rd")
    call_command("csu", email="BOSS@example.com", password="second-Passw0rd")
    boss = User.objects.get()
    assert boss.check_password("second-Passw0rd")
    assert User.objects.count() == 1


def test_promotes_an_existing_user():
    User.objects.create_user("member@example.com", "pw-1234-xyz", is_blocked=True)
    call_command("csu", email="member@example.com", password="new-Passw0rd")
    member = User.objects.get()
    assert member.is_superuser and not member.is_blocked


@pytest.mark.parametrize(("email", "password"), [("", "pw"), ("a@example.com", ""), ("", "")])
def test_missing_values_are_a_command_error(monkeypatch, email, password):
    monkeypatch.delenv("CSU_EMAIL", raising=False)
    monkeypatch.delenv("CSU_PASSWORD", raising=False)
    with pytest.raises(CommandError, match="not set"):
        call_command("csu", email=email or None, password=password or None)
    assert not User.objects.exists()


def test_invalid_email_is_refused():
    with pytest.raises(CommandError, match="not a valid email"):
        call_command("csu", email="not-an-email", password="pw-1234-xyz")


def test_if_set_does_nothing_without_values(monkeypatch):
    monkeypatch.delenv("CSU_EMAIL", raising=False)
    monkeypatch.delenv("CSU_PASSWORD", raising=False)
    call_command("csu", if_set=True)
    assert not User.objects.exists()


def test_missing_variables_exit_1_with_one_line(tmp_path):
    # A real process: the exit code and the exact output a shell user sees.
    result = run_manage("csu", DEBUG="1", DATABASE_URL=f"sqlite:///{tmp_path / 'x.sqlite3'}")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "CommandError: CSU_EMAIL and CSU_PASSWORD not set: pass --email/--password or set the variables."
    )
