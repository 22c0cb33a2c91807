"""The test suite's settings: pytest-django loads this module (`DJANGO_SETTINGS_MODULE` in pyproject.toml).

They are the real settings, read from the environment the test run was given (`DATABASE_URL`, `REDIS_URL`),
with what `backend.settings` decides for this module while it loads (`TESTING`: no `.env`, development keys
allowed, static files from the source folders) and what only tests want, below.
"""

from backend.settings import *  # noqa: F403

# Hashing is the slowest part of creating users; tests create many.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# No sending quota unless a test sets one (tests/deliverability): a factory's user is a new account, and
# many tests send more than the new-account quota.
SEND_QUOTA_DAILY = 0
SEND_QUOTA_NEW_ACCOUNT_DAILY = 0
