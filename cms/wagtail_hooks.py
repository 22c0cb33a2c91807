"""The articles listing in the Wagtail admin, with their view counts (R-BLOG-2)."""

from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.ui.tables import DateColumn
from wagtail.admin.ui.tables.pages import PageStatusColumn
from wagtail.admin.viewsets.pages import PageListingViewSet

from .models import ArticlePage


class ArticleListingViewSet(PageListingViewSet):
    model = ArticlePage
    icon = "doc-full"
    menu_label = _("Articles")
    add_to_admin_menu = True
    # Wagtail's own columns for dates and the live/draft state, as in its other page listings: a plain
    # field name would print the value as Python writes it ("True", a full timestamp).
    list_display = [
        "title",
        "views",
        DateColumn("first_published_at", label=_("First published"), sort_key="first_published_at"),
        DateColumn("latest_revision_created_at", label=_("Updated"), sort_key="latest_revision_created_at"),
        PageStatusColumn("status", label=_("Status"), sort_key="live"),
    ]


@hooks.register("register_admin_viewset")
def register_article_listing():
    return ArticleListingViewSet("articles")
