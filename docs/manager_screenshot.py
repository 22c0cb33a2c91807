"""Take the manager dashboard's screenshot, docs/manager.png (issue 12).

    .venv/bin/python docs/manager_screenshot.py

Builds a throwaway SQLite database in a temporary folder, fills it with `seed_demo` (the demo owner and its
history of sends, which the 30-day chart shows), adds a manager, a superuser and a user the manager blocked
(through the accounts services), starts `runserver` on a free loopback port, signs in as the manager in
Debian's Chromium (Playwright) and saves /manager/ at 1280x900 once its totals, chart and rows are in.
Nothing of the developer's own database or settings is used.
"""

from screenshots import ROOT, demo_site, signed_in  # docs/screenshots.py: run as docs/<this script>

TARGET = ROOT / "docs" / "manager.png"
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


def shoot(base: str) -> None:
    with signed_in(base, MANAGER_EMAIL, MANAGER_PASSWORD) as page:
        page.wait_for_url(base + "/manager/")
        for section in ("stats", "mailings", "users"):
            page.wait_for_selector(f"[data-section={section}][data-state=ready]", state="attached")
        page.screenshot(path=TARGET, full_page=True)


def main() -> None:
    with demo_site(("shell", "-c", PEOPLE)) as base:
        shoot(base)
    print(f"Saved {TARGET.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
