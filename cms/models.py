"""The blog (R-BLOG): one blog index with articles under it, edited in the Wagtail admin."""

from django.core.paginator import Paginator
from django.db import models
from django.db.models import F
from django.utils.translation import gettext_lazy as _
from wagtail import blocks
from wagtail.admin.panels import FieldPanel
from wagtail.fields import RichTextField, StreamField
from wagtail.images.blocks import ImageChooserBlock
from wagtail.models import Page
from wagtail.search import index

BOT_MARKERS = (
    "bot",
    "crawl",
    "spider",
    "slurp",
    "preview",
    "facebookexternalhit",
    "curl",
    "wget",
    "python-requests",
)


def is_bot(user_agent: str) -> bool:
    """Obvious robots and link unfurlers, which must not count as readers (R-BLOG-2)."""
    agent = (user_agent or "").lower()
    return not agent or any(marker in agent for marker in BOT_MARKERS)


class BlogIndexPage(Page):
    intro = RichTextField(_("intro"), blank=True)

    content_panels = [*Page.content_panels, FieldPanel("intro")]
    parent_page_types = ["wagtailcore.Page"]
    subpage_types = ["cms.ArticlePage"]
    max_count = 1
    template = "cms/blog_index_page.html"

    class Meta:
        verbose_name = _("blog")

    def articles(self):
        return (
            ArticlePage.objects.live()
            .public()
            .descendant_of(self)
            .select_related("main_image")
            .order_by("-first_published_at", "-pk")
        )

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["articles"] = Paginator(self.articles(), 12).get_page(request.GET.get("page"))
        return context


class ArticlePage(Page):
    intro = models.TextField(
        _("intro"), max_length=500, help_text=_("A sentence or two for the article cards.")
    )
    main_image = models.ForeignKey(
        "wagtailimages.Image",
        verbose_name=_("main image"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    body = StreamField(
        [
            ("heading", blocks.CharBlock(form_classname="title", label=_("Heading"))),
            ("paragraph", blocks.RichTextBlock(label=_("Paragraph"))),
            ("image", ImageChooserBlock(label=_("Image"))),
            ("quote", blocks.BlockQuoteBlock(label=_("Quote"))),
        ],
        verbose_name=_("body"),
        blank=True,
    )
    published_date = models.DateField(
        _("publish date shown to readers"),
        null=True,
        blank=True,
        help_text=_("Leave empty to show the date of first publication."),
    )
    views = models.PositiveIntegerField(_("views"), default=0, editable=False)

    content_panels = [
        *Page.content_panels,
        FieldPanel("intro"),
        FieldPanel("main_image"),
        FieldPanel("published_date"),
        FieldPanel("body"),
    ]
    search_fields = [*Page.search_fields, index.SearchField("intro"), index.SearchField("body")]
    parent_page_types = ["cms.BlogIndexPage"]
    subpage_types: list[str] = []
    template = "cms/article_page.html"

    class Meta:
        verbose_name = _("article")
        verbose_name_plural = _("articles")

    @property
    def display_date(self):
        """The date readers see: the editor's publish date, else the moment of first publication (an aware
        datetime, whose day the `day` filter takes in the reader's time zone)."""
        return self.published_date or self.first_published_at

    def count_view(self, request) -> None:
        """One reader's view, counted once and atomically (F() update, no read-modify-write race)."""
        if request.method != "GET" or getattr(request, "is_preview", False):
            return
        if is_bot(request.headers.get("User-Agent", "")):
            return
        ArticlePage.objects.filter(pk=self.pk).update(views=F("views") + 1)
        self.refresh_from_db(fields=["views"])

    def serve(self, request, *args, **kwargs):
        # Runs for every reader even though the body HTML comes from the cache, so the count stays exact.
        self.count_view(request)
        return super().serve(request, *args, **kwargs)
