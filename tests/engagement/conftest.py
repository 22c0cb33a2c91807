import pytest


@pytest.fixture(autouse=True)
def _forget_links():
    """Link ids start again in every test's database: no test sees another's addresses in process memory
    (as `_isolated_cache` empties the shared cache)."""
    from backend.web import tracking

    tracking._links.clear()
    yield
    tracking._links.clear()
