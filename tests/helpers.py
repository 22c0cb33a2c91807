"""Run Django in a child process with exactly the environment a test chooses."""

import os
import subprocess
import sys
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
