"""/mailings/."""

from django.urls import path

from .pages import mailings, reports

app_name = "mailings"

urlpatterns = [
    path("", mailings.MailingList.as_view(), name="list"),
    path("new/", mailings.MailingCreate.as_view(), name="new"),
    path("<int:pk>/", mailings.MailingDetail.as_view(), name="detail"),
    path("<int:pk>/edit/", mailings.MailingEdit.as_view(), name="edit"),
    path("<int:pk>/delete/", mailings.MailingDelete.as_view(), name="delete"),
    path("<int:pk>/send/", mailings.MailingSendNow.as_view(), name="send_now"),
    path("<int:pk>/pause/", mailings.MailingPause.as_view(), name="pause"),
    path("<int:pk>/resume/", mailings.MailingPause.as_view(resume=True), name="resume"),
    path("<int:pk>/report/", reports.MailingReport.as_view(), name="report"),
    path("<int:pk>/report/export/", reports.MailingReportExport.as_view(), name="report_export"),
    path(
        "<int:pk>/occurrences/<int:occurrence_pk>/retry/",
        reports.OccurrenceRetry.as_view(),
        name="retry",
    ),
]
