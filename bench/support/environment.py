"""The environment every benchmark runs Django in. Lives in a folder of its own so that `make bench` (every
bench/*.py) does not run it."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def production_mode() -> None:
    """Settings as in production, not as the developer's .env has them: DEBUG off (DEBUG keeps a log of
    every SQL query in memory and skips template caching), a throw-away SECRET_KEY unless one is set, no
    .env file read, warnings and worse logged."""
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("SECRET_KEY", "bench-" + os.urandom(24).hex())
    os.environ.setdefault("JWT_SECRET_KEY", "bench-jwt-" + os.urandom(24).hex())
    os.environ.setdefault("ENV_FILE", str(ROOT / "var" / "no-such.env"))
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # A benchmark measures how fast mail goes, not the daily quotas (R-DLV-5) that would hold its freshly
    # made owner (a new account) to 200 messages a day; set them in the environment to measure them too.
    os.environ.setdefault("SEND_QUOTA_DAILY", "0")
    os.environ.setdefault("SEND_QUOTA_NEW_ACCOUNT_DAILY", "0")
