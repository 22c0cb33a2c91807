import pytest


@pytest.fixture(autouse=True)
def _isolated_cache():
    """Each test starts with an empty cache (the real Redis when REDIS_URL is set)."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
