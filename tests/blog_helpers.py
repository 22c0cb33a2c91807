"""Building blog articles (with real images) the way an editor's publish does."""

import io

from django.core.files.images import ImageFile
from PIL import Image as PILImage
from wagtail.images.models import Image
from wagtail.models import Collection, Locale, Page, Site

from cms.models import ArticlePage, BlogIndexPage


def _ensure_tree() -> Site:
    """The tree the migrations make. A live-server (transactional) test can start from a database that was
    flushed by an earlier one and not fully restored, so rebuild what is missing."""
    locale = Locale.objects.first() or Locale.objects.create(language_code="en")
    if not Collection.objects.exists():
        Collection.add_root(name="Root")
    site = Site.objects.filter(is_default_site=True).first()
    if site is None:
        root = Page.objects.filter(depth=1).first() or Page.add_root(title="Root", slug="root", locale=locale)
        home = root.add_child(instance=Page(title="Home", slug="home", locale=locale))
        site = Site.objects.create(
            hostname="localhost", root_page=home, is_default_site=True, site_name="Mailer"
        )
    return site


def make_image(title: str = "cover", color: str = "teal") -> Image:
    _ensure_tree()
    buffer = io.BytesIO()
    PILImage.new("RGB", (800, 450), color).save(buffer, "PNG")
    return Image.objects.create(title=title, file=ImageFile(buffer, name=f"{title}.png"))


def blog() -> BlogIndexPage:
    index = BlogIndexPage.objects.first()
    if index is None:
        site = _ensure_tree()
        index = site.root_page.add_child(instance=BlogIndexPage(title="Blog", slug="blog"))
    return index


def publish_article(title: str = "Warm-up mailings 101", *, image: bool = True, **fields) -> ArticlePage:
    article = ArticlePage(
        title=title,
        intro=fields.pop("intro", f"Intro of {title}"),
        main_image=make_image(title.lower().replace(" ", "-")) if image else None,
        body=fields.pop("body", [("heading", "Why"), ("paragraph", "<p>Because clients forget you.</p>")]),
        **fields,
    )
    blog().add_child(instance=article)
    article.save_revision().publish()
    article.refresh_from_db()
    return article
