import pytest
from django.db import connection


@pytest.fixture(autouse=True)
def _isolated_cache():
    """Each test starts with an empty cache (the real Redis when REDIS_URL is set)."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _default_language():
    """A request in Russian leaves Russian active in its thread (the locale middleware never switches back):
    each test starts and ends in the default language, so a later test's direct service call is English."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


def pytest_report_header(config):
    from django.conf import settings

    db = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    cache = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
    return f"mailer: database={db} cache={cache}"


@pytest.fixture
def postgresql_only():
    """Skip a test of row locks between sessions on SQLite, whose one database lock makes it moot."""
    if connection.vendor != "postgresql":
        pytest.skip(
            "PostgreSQL only: this tests row locks between sessions (SKIP LOCKED, several schedulers); "
            "SQLite serialises writers with one database lock, and one scheduler is its supported setup"
        )


@pytest.fixture
def smtp(settings):
    """A real SMTP server on loopback, with Django's EMAIL_* settings pointing at it (the fast path)."""
    from tests.fakes.smtp import FakeSMTPServer

    server = FakeSMTPServer().start()
    settings.EMAIL_HOST = server.host
    settings.EMAIL_PORT = server.port
    settings.EMAIL_TIMEOUT = 2
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = ""
    settings.MAILER_SEND_WORKERS = 1  # in the test's own thread and transaction; multi-worker tests raise it
    settings.MAILER_RETRY_BASE_SECONDS = 0
    settings.MAILER_BREAKER_THRESHOLD = 3
    settings.SITE_URL = "https://mailer.example.com"
    yield server
    server.stop()
