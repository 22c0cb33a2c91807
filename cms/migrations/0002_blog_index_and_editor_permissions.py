"""A fresh database gets the blog index at /blog/ and the content editors' permissions on it (R-AUTH-6)."""

import uuid

from django.db import migrations
from django.utils import timezone

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"  # treebeard's materialised-path alphabet, 4 per level
PAGE_PERMISSIONS = ["add_page", "change_page", "publish_page"]
IMAGE_PERMISSIONS = ["add_image", "change_image", "choose_image"]


def _next_child_path(parent, Page):
    last = Page.objects.filter(path__startswith=parent.path, depth=parent.depth + 1).order_by("-path").first()
    if last is None:
        return parent.path + "0001"
    step, number = last.path[-4:], 0
    for char in step:
        number = number * len(ALPHABET) + ALPHABET.index(char)
    number += 1
    digits = ""
    for _ in range(4):
        number, rest = divmod(number, len(ALPHABET))
        digits = ALPHABET[rest] + digits
    return parent.path + digits


def create_blog(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Page = apps.get_model("wagtailcore", "Page")
    Site = apps.get_model("wagtailcore", "Site")
    Locale = apps.get_model("wagtailcore", "Locale")
    Collection = apps.get_model("wagtailcore", "Collection")
    GroupPagePermission = apps.get_model("wagtailcore", "GroupPagePermission")
    GroupCollectionPermission = apps.get_model("wagtailcore", "GroupCollectionPermission")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    BlogIndexPage = apps.get_model("cms", "BlogIndexPage")

    blog = BlogIndexPage.objects.first()
    if blog is None:
        site = Site.objects.filter(is_default_site=True).first()
        root = Page.objects.get(pk=site.root_page_id) if site else Page.objects.get(depth=1)
        content_type, _ = ContentType.objects.get_or_create(app_label="cms", model="blogindexpage")
        now = timezone.now()
        blog = BlogIndexPage.objects.create(
            title="Blog",
            draft_title="Blog",
            slug="blog",
            content_type=content_type,
            path=_next_child_path(root, Page),
            depth=root.depth + 1,
            numchild=0,
            url_path=f"{root.url_path}blog/",
            live=True,
            first_published_at=now,
            last_published_at=now,
            locale=Locale.objects.get(pk=root.locale_id) if root.locale_id else Locale.objects.first(),
            translation_key=uuid.uuid4(),
            intro="<p>News, guides and stories from the Mailer team.</p>",
        )
        Page.objects.filter(pk=root.pk).update(numchild=root.numchild + 1)

    editors = Group.objects.get(name="Content editors")
    for codename in PAGE_PERMISSIONS:
        permission = Permission.objects.get(content_type__app_label="wagtailcore", codename=codename)
        GroupPagePermission.objects.get_or_create(group=editors, page_id=blog.pk, permission=permission)
    root_collection = Collection.objects.get(depth=1)
    for codename in IMAGE_PERMISSIONS:
        permission = Permission.objects.get(content_type__app_label="wagtailimages", codename=codename)
        GroupCollectionPermission.objects.get_or_create(
            group=editors, collection=root_collection, permission=permission
        )


def remove_blog(apps, schema_editor):
    apps.get_model("cms", "BlogIndexPage").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("cms", "0001_initial"),
        ("accounts", "0003_roles"),
        ("wagtailcore", "0098_apitoken"),
        ("wagtailimages", "0027_image_description"),
    ]

    operations = [migrations.RunPython(create_blog, remove_blog)]
