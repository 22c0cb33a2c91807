"""Blog cache invalidation on publish, unpublish, delete and move (Wagtail's signals). Pages change rarely,
so any page event simply invalidates: cheap, and never stale."""

from django.db.models.signals import post_delete
from django.dispatch import receiver
from wagtail.signals import page_published, page_unpublished, post_page_move

from .cache import invalidate_blog
from .models import ArticlePage, BlogIndexPage


@receiver(page_published)
@receiver(page_unpublished)
@receiver(post_page_move)
def blog_page_changed(sender, **kwargs):
    invalidate_blog()


@receiver(post_delete, sender=ArticlePage)
@receiver(post_delete, sender=BlogIndexPage)
def blog_page_deleted(sender, **kwargs):
    invalidate_blog()
