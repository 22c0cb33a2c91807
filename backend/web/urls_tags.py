"""/tags/."""

from django.urls import path

from .pages import tags

app_name = "tags"

urlpatterns = [
    path("", tags.TagList.as_view(), name="list"),
    path("new/", tags.TagCreate.as_view(), name="new"),
    path("<int:pk>/edit/", tags.TagEdit.as_view(), name="edit"),
    path("<int:pk>/delete/", tags.TagDelete.as_view(), name="delete"),
]
