"""50 readers at once: exactly +50 views (R-BLOG-2), against a real threaded server."""

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from cms.models import ArticlePage
from tests.blog_helpers import publish_article

# serialized_rollback: the migrations' data (Wagtail tree, blog, roles) survive the flushes between tests.
pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True), pytest.mark.slow]


def test_fifty_parallel_views_count_fifty(live_server, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    article = publish_article("Busy article", image=False)
    url = live_server.url + article.url
    headers = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/150.0"}

    def read(_):
        return requests.get(url, headers=headers, timeout=60).status_code

    with ThreadPoolExecutor(max_workers=25) as pool:
        codes = list(pool.map(read, range(50)))
    assert codes == [200] * 50
    assert ArticlePage.objects.get(pk=article.pk).views == 50
