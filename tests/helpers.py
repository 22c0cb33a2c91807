"""Run Django in a child process with exactly the environment a test chooses."""

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def clean_env(**overrides: str) -> dict[str, str]:
    """The current environment minus pytest's marker and every Mailer variable, plus `overrides`."""
    keep = {"PATH", "HOME", "LANG", "LC_ALL", "SYSTEMROOT", "TMPDIR"}
    env = {key: value for key, value in os.environ.items() if key in keep}
    env["ENV_FILE"] = str(ROOT / "var" / "no-such.env")
    env["DJANGO_SETTINGS_MODULE"] = "backend.settings"
    env.update(overrides)
    return env


def run_python(code: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_manage(*args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def database_url() -> str:
    """A URL for the database the running test uses, so a child process works on the same data."""
    from django.db import connection

    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def sender_env(smtp, **extra: str) -> dict[str, str]:
    env = {
        "DEBUG": "1",
        "DATABASE_URL": database_url(),
        "EMAIL_HOST": smtp.host,
        "EMAIL_PORT": str(smtp.port),
        "EMAIL_TIMEOUT": "5",
        "LOG_LEVEL": "WARNING",
        # No daily quota, as in backend/settings_test.py: a factory's user is a new account.
        "SEND_QUOTA_DAILY": "0",
        "SEND_QUOTA_NEW_ACCOUNT_DAILY": "0",
    }
    env.update(extra)
    return clean_env(**env)


def start_manage(*args: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(predicate: Callable[[], object], timeout: float, interval: float = 0.05) -> bool:
    """Poll `predicate` until it is true or `timeout` seconds pass; its last answer as a bool."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def deliver_account_mail() -> list:
    """What the scheduler does every tick: send the queued account emails, here into Django's
    test outbox; returns `mail.outbox`. Pages only queue them, so a test expecting one drains first."""
    from django.core import mail

    from backend.accounts.outbox import send_account_mail

    send_account_mail()
    return mail.outbox
