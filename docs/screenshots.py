"""Take the owner pages' screenshots in docs/ (issue 11): dashboard.png, clients.png, mailing.png, report.png.

    .venv/bin/python docs/screenshots.py

Builds a throwaway SQLite database in a temporary folder, fills it with `seed_demo` (the demo account with its
history), starts `runserver` on a free loopback port, signs in as the demo owner in Debian's Chromium
(Playwright) and saves each page at 1280x900. Nothing of the developer's own database or settings is used.
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


def shoot(base: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(base + "/accounts/login/")
        page.fill("#id_username", DEMO_EMAIL)
        page.fill("#id_password", DEMO_PASSWORD)
        page.click("main button[type=submit]")
        page.wait_for_url(lambda url: "/accounts/login/" not in url)

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
    print("Saved", ", ".join(f"docs/{name}.png" for name in ("dashboard", "clients", "mailing", "report")))


if __name__ == "__main__":
    main()
