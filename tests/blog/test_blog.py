"""The Wagtail blog, the home page and their caches (R-BLOG-1/2, R-HOME-1, R-CACHE-1, R-AUTH-6)."""

import datetime as dt
import importlib
import re

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from wagtail.models import (
    GroupApprovalTask,
    TaskState,
    Workflow,
    WorkflowPage,
    WorkflowState,
    WorkflowTask,
)

from backend.mailings.models import Mailing
from cms.models import ArticlePage, BlogIndexPage, is_bot
from tests.blog_helpers import blog, publish_article
from tests.factories import ClientFactory, MailingFactory, UserFactory

pytestmark = pytest.mark.django_db
BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0 Safari/537.36"}


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


# --- the tree ----------------------------------------------------------------------


def test_a_fresh_database_has_the_blog_at_slash_blog(client):
    index = blog()
    assert index.url == "/blog/"
    assert index.live
    response = client.get("/blog/", headers=BROWSER)
    assert response.status_code == 200
    assert "No articles yet." in response.content.decode()


def test_editors_can_only_build_blog_then_articles():
    assert ArticlePage.allowed_parent_page_models() == [BlogIndexPage]
    assert ArticlePage.allowed_subpage_models() == []
    assert BlogIndexPage.allowed_subpage_models() == [ArticlePage]
    assert not BlogIndexPage.can_create_at(blog())  # only one blog
    assert not ArticlePage.can_create_at(blog().get_parent())


def test_article_page_shows_title_image_body_date_and_views(client):
    article = publish_article("Autumn news", published_date=dt.date(2026, 10, 1))
    html = client.get(article.url, headers=BROWSER).content.decode()
    assert "Autumn news" in html
    assert "Because clients forget you." in html
    assert "<img" in html and "autumn-news" in html
    assert "October 1, 2026" in html  # as the rest of the site writes a day (web/moments.py)
    assert "1 view" in html


# --- view counting (R-BLOG-2) -------------------------------------------------------


def test_each_view_counts_once_also_when_the_body_comes_from_the_cache(client):
    article = publish_article()
    for _ in range(3):
        client.get(article.url, headers=BROWSER)
    article.refresh_from_db()
    assert article.views == 3
    from django.core.cache.utils import make_template_fragment_key

    body_key = make_template_fragment_key("article_body", [article.pk, article.live_revision_id, "en"])
    assert cache.get(body_key) is not None  # the body is served from the cache from now on
    html = client.get(article.url, headers=BROWSER).content.decode()
    assert "4 views" in html
    article.refresh_from_db()
    assert article.views == 4


def test_bots_previews_and_non_get_requests_are_not_counted(client):
    article = publish_article()
    for agent in ("Googlebot/2.1", "curl/8.0", "python-requests/2.34", ""):
        client.get(article.url, headers={"User-Agent": agent})
    client.head(article.url, headers=BROWSER)
    editor = UserFactory(is_superuser=True, is_staff=True)
    client.force_login(editor)
    preview = client.get(reverse("wagtailadmin_pages:view_draft", args=[article.pk]), headers=BROWSER)
    assert preview.status_code == 200
    article.refresh_from_db()
    assert article.views == 0
    assert is_bot("Mozilla/5.0 (compatible; bingbot/2.0)") and not is_bot(BROWSER["User-Agent"])


def test_views_appear_in_the_wagtail_admin_listing(client):
    article = publish_article("Counted")
    ArticlePage.objects.filter(pk=article.pk).update(views=1234)
    client.force_login(UserFactory(is_superuser=True, is_staff=True))
    response = client.get(reverse("articles:index"))
    assert response.status_code == 200
    assert "1234" in response.content.decode()


def test_the_articles_listing_shows_status_and_dates_as_wagtail_does_not_raw_values_R_BLOG_1(client):
    """R-BLOG-1: the "Articles" list's live column is Wagtail's status tag, not a raw `True`, and its dates
    are Wagtail's date cells, not Python's timestamp."""
    publish_article("Listed")
    client.force_login(UserFactory(is_superuser=True, is_staff=True))
    html = client.get(reverse("articles:index")).content.decode()
    cells = [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", html, re.S)]
    assert cells and not {"True", "False"} & set(cells)
    assert not any(re.search(r"\d{4}-\d\d-\d\d \d\d:", cell) for cell in cells), cells
    assert any("live" in cell.lower() for cell in cells), cells


def test_blog_dates_read_like_the_rest_of_the_site_in_the_readers_zone_R_BLOG_1(client):
    """R-BLOG-1: an article's date is written as the site writes a day ("March 2, 2025", web/moments.py),
    and a publication moment falls on the reader's own day: 21:30 UTC is already the next day in Tokyo."""
    article = publish_article("Zoned")
    moment = dt.datetime(2025, 3, 1, 21, 30, tzinfo=dt.UTC)
    ArticlePage.objects.filter(pk=article.pk).update(first_published_at=moment, published_date=None)
    cache.clear()
    html = client.get(article.url, headers=BROWSER).content.decode()
    assert "March 1, 2025" in html
    reader = UserFactory(time_zone="Asia/Tokyo")
    client.force_login(reader)
    assert "March 2, 2025" in client.get(article.url, headers=BROWSER).content.decode()
    assert "March 2, 2025" in client.get("/blog/", headers=BROWSER).content.decode()
    assert "March 2, 2025" in client.get("/", headers=BROWSER).content.decode()


# --- the home page (R-HOME-1) ---------------------------------------------------------


def test_home_counts_match_hand_computed_numbers(client):
    alice, bob = UserFactory(), UserFactory()
    shared_a = ClientFactory(owner=alice, email="Same@example.org")
    shared_b = ClientFactory(owner=bob, email="same@EXAMPLE.org")  # the same person in two lists
    only_a = ClientFactory(owner=alice)
    ClientFactory(owner=alice)  # in no mailing: not counted
    MailingFactory(owner=alice, clients=[shared_a, only_a], status=Mailing.Status.STARTED)
    MailingFactory(owner=bob, clients=[shared_b], status=Mailing.Status.STARTED, is_active=False)
    MailingFactory(owner=bob, clients=[shared_b], status=Mailing.Status.CREATED)
    response = client.get("/")
    assert response.context["stats"] == {"mailings": 3, "active_mailings": 1, "unique_clients": 2}
    html = response.content.decode()
    assert 'data-testid="mailings">3<' in html
    assert 'data-testid="active-mailings">1<' in html
    assert 'data-testid="unique-clients">2<' in html


HOME_LABELS = {
    # n: (mailings, active mailings, unique clients) as Russian agrees them with n
    1: ("рассылка", "активная рассылка", "уникальный клиент"),
    2: ("рассылки", "активные рассылки", "уникальных клиента"),
    5: ("рассылок", "активных рассылок", "уникальных клиентов"),
    21: ("рассылка", "активная рассылка", "уникальный клиент"),
}


def home_counter(html: str, testid: str) -> tuple[str, str]:
    number = re.search(rf'data-testid="{testid}">([^<]*)<', html).group(1)
    label = re.search(rf'data-testid="{testid}-label">([^<]*)<', html).group(1)
    return number, label


@pytest.mark.parametrize("n", sorted(HOME_LABELS))
def test_home_counter_labels_agree_with_their_number_in_russian(client, n):
    """Every count shown goes through plural-aware translation, not "1 активных рассылок"."""
    owner = UserFactory()
    for _ in range(n):
        MailingFactory(owner=owner, clients=[ClientFactory(owner=owner)], status=Mailing.Status.STARTED)
    html = client.get("/", headers={"accept-language": "ru"}).content.decode()
    mailings, active, unique = HOME_LABELS[n]
    assert home_counter(html, "mailings") == (str(n), mailings)
    assert home_counter(html, "active-mailings") == (str(n), active)
    assert home_counter(html, "unique-clients") == (str(n), unique)


def test_home_counter_labels_agree_with_their_number_in_english(client):
    """ "1 active mailing", "0 unique clients"."""
    owner = UserFactory()
    MailingFactory(owner=owner, status=Mailing.Status.STARTED)
    html = client.get("/", headers={"accept-language": "en"}).content.decode()
    assert home_counter(html, "mailings") == ("1", "mailing")
    assert home_counter(html, "active-mailings") == ("1", "active mailing")
    assert home_counter(html, "unique-clients") == ("0", "unique clients")


def test_home_shows_three_random_published_articles(client):
    titles = {publish_article(f"Article {n}", image=n < 2).title for n in range(6)}
    draft = ArticlePage(title="Draft only", intro="x", live=False)
    blog().add_child(instance=draft)
    seen = set()
    for _ in range(12):
        cards = client.get("/").context["articles"]
        assert len(cards) == 3
        seen |= {card["title"] for card in cards}
    assert seen <= titles
    assert len(seen) > 3  # random per request, not the same three
    html = client.get("/").content.decode()
    assert "Draft only" not in html


def test_warm_home_page_makes_no_sql_query(client):
    for n in range(4):
        publish_article(f"A{n}")
    client.get("/")
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/").status_code == 200
    assert len(queries) == 0, [q["sql"] for q in queries.captured_queries]


# --- invalidation -------------------------------------------------------------------


def test_counts_follow_every_kind_of_change(client):
    owner = UserFactory()
    assert client.get("/").context["stats"]["mailings"] == 0
    mailing = MailingFactory(owner=owner)
    assert client.get("/").context["stats"]["mailings"] == 1  # created
    mailing.status = Mailing.Status.STARTED
    mailing.save()
    assert client.get("/").context["stats"]["active_mailings"] == 1  # changed
    mailing.clients.add(ClientFactory(owner=owner))
    assert client.get("/").context["stats"]["unique_clients"] == 1  # clients added
    mailing.delete()
    assert client.get("/").context["stats"] == {"mailings": 0, "active_mailings": 0, "unique_clients": 0}


def test_publish_edit_unpublish_and_delete_refresh_the_blog(client):
    first = publish_article("First")
    assert "First" in client.get("/blog/", headers=BROWSER).content.decode()
    second = publish_article("Second")
    assert "Second" in client.get("/blog/", headers=BROWSER).content.decode()  # publish
    assert {c["title"] for c in client.get("/").context["articles"]} == {"First", "Second"}

    first.title = "First, edited"
    first.body = [("paragraph", "<p>New body text.</p>")]
    first.save_revision().publish()
    assert "New body text." in client.get(first.url, headers=BROWSER).content.decode()  # edit
    assert "First, edited" in client.get("/blog/", headers=BROWSER).content.decode()

    second.unpublish()
    assert "Second" not in client.get("/blog/", headers=BROWSER).content.decode()  # unpublish
    assert {c["title"] for c in client.get("/").context["articles"]} == {"First, edited"}

    ArticlePage.objects.get(pk=first.pk).delete()
    assert client.get("/").context["articles"] == []  # delete


def test_cache_keys_are_versioned():
    from cms.cache import CARDS_KEY, article_cards

    publish_article()
    article_cards()
    assert CARDS_KEY.endswith(":v2")
    assert [card["title"] for card in cache.get(CARDS_KEY)] == ["Warm-up mailings 101"]


# --- Redis down: uncached, never a 500 --------------------------------------------------


def test_pages_work_with_redis_down(client, settings):
    from tests.fakes.smtp import closed_port

    article = publish_article()
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed_port()}/0",
            "OPTIONS": {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
        }
    }
    for url in ("/", "/blog/", article.url):
        assert client.get(url, headers=BROWSER).status_code == 200, url
    article.refresh_from_db()
    assert article.views == 1


# --- content editors (R-AUTH-6) -------------------------------------------------------


@pytest.fixture
def editor():
    user = UserFactory(email="editor@example.com")
    user.groups.add(Group.objects.get(name="Content editors"))
    return type(user).objects.get(pk=user.pk)


def test_content_editor_writes_publishes_and_unpublishes_an_article_with_an_image(client, editor):
    from tests.blog_helpers import make_image

    client.force_login(editor)
    assert client.get("/cms/").status_code == 200
    image = make_image("editor-cover")
    add_url = reverse("wagtailadmin_pages:add", args=["cms", "articlepage", blog().pk])
    assert client.get(add_url).status_code == 200
    response = client.post(
        add_url,
        {
            "title": "Written by an editor",
            "slug": "written-by-an-editor",
            "intro": "Short intro",
            "main_image": image.pk,
            "published_date": "",
            "body-count": "0",
            "action-publish": "publish",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    article = ArticlePage.objects.get(slug="written-by-an-editor")
    assert article.live and article.main_image == image
    assert "Written by an editor" in client.get("/blog/", headers=BROWSER).content.decode()

    unpublish = client.post(reverse("wagtailadmin_pages:unpublish", args=[article.pk]))
    assert unpublish.status_code == 302
    article.refresh_from_db()
    assert not article.live


def test_content_editor_is_refused_outside_the_blog(client, editor):
    client.force_login(editor)
    root_page = blog().get_parent()
    assert client.get(reverse("wagtailadmin_pages:add_subpage", args=[root_page.pk])).status_code in (
        302,
        403,
    )
    assert client.get(reverse("admin:mailings_mailing_changelist")).status_code == 302  # not staff
    MailingFactory()
    from backend.mailings.selectors import mailings_for

    assert not mailings_for(editor).exists()


# --- no moderation step: content editors publish --------------------------


def run_remove_stock_moderation():
    from django.apps import apps

    migration = importlib.import_module("cms.migrations.0004_remove_stock_moderation")
    migration.remove_stock_moderation(apps, None)


def stock_moderation(*, moderator=None):
    """What Wagtail's own migrations create: two groups and a workflow on the root page."""
    moderators, _ = Group.objects.get_or_create(name="Moderators")
    Group.objects.get_or_create(name="Editors")
    if moderator is not None:
        moderator.groups.add(moderators)
    task = GroupApprovalTask.objects.create(name="Moderators approval")
    task.groups.set([moderators])
    workflow = Workflow.objects.create(name="Moderators approval")
    WorkflowTask.objects.create(workflow=workflow, task=task, sort_order=0)
    WorkflowPage.objects.create(workflow=workflow, page=blog().get_parent())
    return workflow


def test_after_migrate_only_the_projects_groups_exist_and_no_workflow():
    """Wagtail's stock Editors/Moderators and "Moderators approval" are removed."""
    assert set(Group.objects.values_list("name", flat=True)) == {"Content editors", "Managers"}
    assert not Workflow.objects.exists()
    assert not GroupApprovalTask.objects.exists()
    assert blog().get_workflow() is None


def test_content_editors_edit_view_offers_publish_not_submit_to_moderators(client, editor):
    """No "Submit to Moderators approval" that nobody would approve."""
    article = publish_article("Editable")
    client.force_login(editor)
    html = client.get(reverse("wagtailadmin_pages:edit", args=[article.pk])).content.decode()
    assert 'name="action-publish"' in html
    assert "Submit to" not in html
    assert 'name="action-submit"' not in html


def test_stock_groups_with_members_and_their_workflow_are_kept():
    """Someone who put people in Moderators chose to moderate; only empty groups go."""
    workflow = stock_moderation(moderator=UserFactory())
    run_remove_stock_moderation()
    assert set(Group.objects.values_list("name", flat=True)) == {"Content editors", "Managers", "Moderators"}
    workflow.refresh_from_db()
    assert workflow.active
    assert blog().get_workflow() == workflow


def test_a_stock_workflow_used_before_is_disabled_and_its_history_kept():
    """An article waiting for approval is released (cancelled), not deleted with its history."""
    workflow = stock_moderation()
    article = publish_article("Waiting")
    article.save_revision()
    state = workflow.start(article, UserFactory())
    run_remove_stock_moderation()
    assert not Group.objects.filter(name__in=["Editors", "Moderators"]).exists()
    workflow.refresh_from_db()
    state.refresh_from_db()
    assert not workflow.active
    assert state.status == WorkflowState.STATUS_CANCELLED
    assert state.current_task_state.status == TaskState.STATUS_CANCELLED
    article.refresh_from_db()
    assert article.get_workflow() is None
    assert not article.workflow_in_progress


def test_a_stock_workflow_never_used_is_deleted():
    stock_moderation()
    run_remove_stock_moderation()
    assert not Workflow.objects.exists()
    assert not GroupApprovalTask.objects.exists()
    assert set(Group.objects.values_list("name", flat=True)) == {"Content editors", "Managers"}


def test_the_warm_blog_index_skips_the_listing_queries(client):
    for n in range(3):
        publish_article(f"Q{n}")
    with CaptureQueriesContext(connection) as cold:
        client.get("/blog/", headers=BROWSER)
    with CaptureQueriesContext(connection) as warm:
        assert client.get("/blog/", headers=BROWSER).status_code == 200
    assert len(warm) < len(cold)
    assert not any("wagtailimages_rendition" in q["sql"] for q in warm.captured_queries)


def test_a_previewed_draft_never_reaches_readers(client):
    """Found in review: only the live revision is cached, so a previewed draft stays with the editor."""
    article = publish_article("Stable", body=[("paragraph", "<p>Published words.</p>")])
    article.body = [("paragraph", "<p>Secret draft words.</p>")]
    article.save_revision()  # a draft, not published
    editor = UserFactory(is_superuser=True, is_staff=True)
    client.force_login(editor)
    preview = client.get(reverse("wagtailadmin_pages:view_draft", args=[article.pk]), headers=BROWSER)
    assert "Secret draft words." in preview.content.decode()
    client.logout()
    public = client.get(article.url, headers=BROWSER).content.decode()
    assert "Published words." in public
    assert "Secret draft words." not in public
