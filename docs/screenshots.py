"""Take the owner pages' screenshots in docs/ (issue 11): dashboard.png, clients.png, mailing.png, report.png.

    .venv/bin/python docs/screenshots.py

Builds a throwaway SQLite database in a temporary folder, fills it with `seed_demo` (the demo account with its
history), starts `runserver` on a free loopback port, signs in as the demo owner in Debian's Chromium
(Playwright) and saves each page at 1280x900. Nothing of the developer's own database or settings is used.
`demo_site` and `signed_in` serve docs/manager_screenshot.py too.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DEMO_EMAIL, DEMO_PASSWORD = "demo@example.com", "demo-mailer-2026"


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


@contextmanager
def demo_site(*setup: tuple[str, ...]) -> Iterator[str]:
    """A throwaway SQLite database with `seed_demo`'s data and then each `setup` (manage.py arguments),
    served by runserver on a free loopback port: yields the site's base URL."""
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
        for args in setup:
            manage(*args, env=env)
        port = free_port()
        server = subprocess.Popen(  # noqa: S603 - our own manage.py
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"], cwd=ROOT, env=env
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for(base + "/accounts/login/")
            yield base
        finally:
            server.terminate()
            server.wait(timeout=10)


@contextmanager
def signed_in(base: str, email: str, password: str):
    """Debian's Chromium at 1280x900, signed in as `email`, on the page the sign-in lands on."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(base + "/accounts/login/")
            page.fill("#id_username", email)
            page.fill("#id_password", password)
            page.click("main button[type=submit]")
            page.wait_for_url(lambda url: "/accounts/login/" not in url)
            yield page
        finally:
            browser.close()


def shoot(base: str) -> None:
    with signed_in(base, DEMO_EMAIL, DEMO_PASSWORD) as page:
        page.goto(base + "/dashboard/")
        page.screenshot(path=DOCS / "dashboard.png")
        page.goto(base + "/clients/")
        page.screenshot(path=DOCS / "clients.png")
        page.goto(base + "/mailings/?periodicity=daily")
        page.click("[data-testid=object-table] tbody tr a")
        page.wait_for_selector("[data-testid=progress]")
        page.screenshot(path=DOCS / "mailing.png")
        page.click("main >> text=Report")
        page.wait_for_selector("[data-testid=chart][data-state=ready]")
        page.screenshot(path=DOCS / "report.png")


def main() -> None:
    with demo_site() as base:
        shoot(base)
    print("Saved", ", ".join(f"docs/{name}.png" for name in ("dashboard", "clients", "mailing", "report")))


if __name__ == "__main__":
    main()
