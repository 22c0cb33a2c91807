import pytest


@pytest.fixture(autouse=True)
def _isolated_cache():
    """Each test starts with an empty cache (the real Redis when REDIS_URL is set)."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def pytest_report_header(config):
    from django.conf import settings

    db = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    cache = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
    return f"mailer: database={db} cache={cache}"
