"""Blog caching (R-CACHE-1). Two kinds, each for a reason:

- low-level cache API: the list of published article *cards* (title, URL, intro, date, image rendition URL)
  that the home page draws three random ones from on every request, so the pick stays random while the
  list costs no query;
- template-fragment cache: the article body (keyed by the page's latest revision, so an edit is a new key)
  and the blog index listing (keyed by a blog version bumped on every publish/unpublish/delete/move).
  The view counter is outside both fragments and is served live.
Keys carry a version; Redis being down degrades to uncached pages (django-redis IGNORE_EXCEPTIONS).
"""

from __future__ import annotations

from django.core.cache import cache

# The suffix is the format version of what is stored: change it when the stored shape changes.
CARDS_KEY = "blog:cards:v2"  # v2: "date" may be an aware datetime
VERSION_KEY = "blog:version:v1"
CARDS_TTL = 6 * 3600
CARD_RENDITION = "fill-640x360"


def article_cards() -> list[dict]:
    cards = cache.get(CARDS_KEY)
    if cards is None:
        cards = _build_cards()
        cache.set(CARDS_KEY, cards, CARDS_TTL)
    return cards


def _build_cards() -> list[dict]:
    from .models import ArticlePage

    cards = []
    for article in (
        ArticlePage.objects.live().public().select_related("main_image").order_by("-first_published_at")
    ):
        image = article.main_image
        rendition = image.get_rendition(CARD_RENDITION) if image else None
        date = article.display_date
        cards.append(
            {
                "title": article.title,
                "url": article.url,
                "intro": article.intro,
                "date": date,
                "image_url": rendition.url if rendition else "",
                "image_alt": (image.default_alt_text if image else "") or article.title,
            }
        )
    return cards


def blog_version() -> int:
    version = cache.get(VERSION_KEY)
    if version is None:
        version = 1
        cache.add(VERSION_KEY, version, None)
    return version


def invalidate_blog() -> None:
    """Any change to what readers see of the blog: drop the cards and move every listing fragment on."""
    cache.delete(CARDS_KEY)
    try:
        cache.incr(VERSION_KEY)
    except ValueError:  # not set yet (or the cache was flushed): start a new series
        cache.set(VERSION_KEY, 2, None)
