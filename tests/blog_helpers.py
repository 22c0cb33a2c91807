"""Building blog articles (with real images) the way an editor's publish does."""

import io

from django.core.files.images import ImageFile
from PIL import Image as PILImage
from wagtail.images.models import Image

from cms.models import ArticlePage, BlogIndexPage


def make_image(title: str = "cover", color: str = "teal") -> Image:
    buffer = io.BytesIO()
    PILImage.new("RGB", (800, 450), color).save(buffer, "PNG")
    return Image.objects.create(title=title, file=ImageFile(buffer, name=f"{title}.png"))


def blog() -> BlogIndexPage:
    return BlogIndexPage.objects.get()


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
