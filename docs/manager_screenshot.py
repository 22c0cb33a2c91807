"""Take the manager dashboard's screenshot, docs/manager.png (issue 12).

    .venv/bin/python docs/manager_screenshot.py

Builds a throwaway SQLite database in a temporary folder, fills it with `seed_demo` (the demo owner and its
history of sends, which the 30-day chart shows), adds a manager, a superuser and a user the manager blocked
(through the accounts services), starts `runserver` on a free loopback port, signs in as the manager in
Debian's Chromium (Playwright) and saves /manager/ at 1280x900 once its totals, chart and rows are in.
Nothing of the developer's own database or settings is used.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "docs" / "manager.png"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
MANAGER_EMAIL, MANAGER_PASSWORD = "mia.manager@example.com", "demo-manager-2026"

# Run by `manage.py shell`: the people a manager's list shows besides the demo owner.
PEOPLE = f"""
from django.contrib.auth.models import Group
from backend.accounts import services
from backend.accounts.models import User

manager = User.objects.create_user(
    {MANAGER_EMAIL!r}, {MANAGER_PASSWORD!r}, first_name="Mia", last_name="Manager", email_verified=True
)
manager.groups.add(Group.objects.get(name="Managers"))
User.objects.create_superuser(
    "root@example.com", "root-password-2026", first_name="Root", email_verified=True
)
User.objects.create_user("new.signup@example.org", "new-password-2026", first_name="Nadia", last_name="New")
spammer = User.objects.create_user(
    "bulk.sender@example.net", "bulk-password-2026", first_name="Ivan", last_name="Bulk", email_verified=True
)
services.user_block(actor=manager, user=spammer, reason="Complaints about unsolicited mail")
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def manage(*args: str, env: dict) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True)  # noqa: S603


def wait_for(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)  # noqa: S310 - our own loopback server
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def shoot(base: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(base + "/accounts/login/")
        page.fill("#id_username", MANAGER_EMAIL)
        page.fill("#id_password", MANAGER_PASSWORD)
        page.click("main button[type=submit]")
        page.wait_for_url(base + "/manager/")
        for section in ("stats", "mailings", "users"):
            page.wait_for_selector(f"[data-section={section}][data-state=ready]", state="attached")
        page.screenshot(path=TARGET, full_page=True)
        browser.close()


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        env = {key: value for key, value in os.environ.items() if key in {"PATH", "HOME", "LANG", "TMPDIR"}}
        env.update(
            DEBUG="1",
            DATABASE_URL=f"sqlite:///{folder}/screenshots.sqlite3",
            ENV_FILE=f"{folder}/no.env",
            MEDIA_ROOT=f"{folder}/media",
            LOG_LEVEL="WARNING",
        )
        manage("migrate", "--noinput", "-v0", env=env)
        manage("seed_demo", env=env)
        manage("shell", "-c", PEOPLE, env=env)
        port = free_port()
        server = subprocess.Popen(  # noqa: S603 - our own manage.py
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"], cwd=ROOT, env=env
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for(base + "/accounts/login/")
            shoot(base)
        finally:
            server.terminate()
            server.wait(timeout=10)
    print(f"Saved {TARGET.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
