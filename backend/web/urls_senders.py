"""/senders/: the owner's sender identities and domains, and the public confirmation link's page."""

from django.urls import path

from .pages import senders

app_name = "senders"

urlpatterns = [
    path("", senders.SenderList.as_view(), name="list"),
    path("new/", senders.IdentityCreate.as_view(), name="new"),
    path("<int:pk>/edit/", senders.IdentityEdit.as_view(), name="edit"),
    path("<int:pk>/delete/", senders.IdentityDelete.as_view(), name="delete"),
    path("<int:pk>/resend/", senders.IdentityResend.as_view(), name="resend"),
    path("domains/new/", senders.DomainAdd.as_view(), name="domain_new"),
    path("domains/<int:pk>/", senders.DomainDetail.as_view(), name="domain"),
    path("domains/<int:pk>/check/", senders.DomainCheck.as_view(), name="domain_check"),
    path("domains/<int:pk>/delete/", senders.DomainDelete.as_view(), name="domain_delete"),
    path("confirm/<str:token>/", senders.Confirm.as_view(), name="confirm"),
]
