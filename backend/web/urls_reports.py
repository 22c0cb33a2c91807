"""/reports/ (R-UI-2): one page, named `reports` for the navbar."""

from django.urls import path

from .pages import reports

urlpatterns = [
    path("", reports.ReportList.as_view(), name="reports"),
]
