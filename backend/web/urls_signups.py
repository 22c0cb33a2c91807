"""/signup-forms/: the owner's public sign-up forms (the public pages are in urls.py, under /subscribe/)."""

from django.urls import path

from .pages import signups

app_name = "signups"

urlpatterns = [
    path("", signups.SignupFormList.as_view(), name="list"),
    path("new/", signups.SignupFormCreate.as_view(), name="new"),
    path("<int:pk>/", signups.SignupFormDetail.as_view(), name="detail"),
    path("<int:pk>/edit/", signups.SignupFormEdit.as_view(), name="edit"),
    path("<int:pk>/delete/", signups.SignupFormDelete.as_view(), name="delete"),
]
