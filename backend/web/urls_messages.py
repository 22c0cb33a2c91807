"""/messages/."""

from django.urls import path

from .pages import messages

app_name = "messages"

urlpatterns = [
    path("", messages.MessageList.as_view(), name="list"),
    path("new/", messages.MessageCreate.as_view(), name="new"),
    path("<int:pk>/edit/", messages.MessageEdit.as_view(), name="edit"),
    path("<int:pk>/delete/", messages.MessageDelete.as_view(), name="delete"),
    path("<int:pk>/preview/", messages.MessagePreview.as_view(), name="preview"),
    path("<int:pk>/send-test/", messages.MessageSendTest.as_view(), name="send_test"),
]
