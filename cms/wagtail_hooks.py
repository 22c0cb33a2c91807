"""The articles listing in the Wagtail admin, with their view counts (R-BLOG-2)."""

from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.viewsets.pages import PageListingViewSet

from .models import ArticlePage


class ArticleListingViewSet(PageListingViewSet):
    model = ArticlePage
    icon = "doc-full"
    menu_label = _("Articles")
    add_to_admin_menu = True
    list_display = ["title", "views", "first_published_at", "latest_revision_created_at", "live"]


@hooks.register("register_admin_viewset")
def register_article_listing():
    return ArticleListingViewSet("articles")
