"""/clients/."""

from django.urls import path

from .pages import clients

app_name = "clients"

urlpatterns = [
    path("", clients.ClientList.as_view(), name="list"),
    path("new/", clients.ClientCreate.as_view(), name="new"),
    path("<int:pk>/edit/", clients.ClientEdit.as_view(), name="edit"),
    path("<int:pk>/delete/", clients.ClientDelete.as_view(), name="delete"),
    path("<int:pk>/data.json", clients.ClientDataExport.as_view(), name="data-export"),
    path("<int:pk>/erase/", clients.ClientErase.as_view(), name="erase"),
    path("<int:pk>/reactivate/", clients.ClientReactivate.as_view(), name="reactivate"),
    path("bounces/<int:pk>/raw/", clients.BounceRaw.as_view(), name="bounce-raw"),
    path("import/", clients.ClientImport.as_view(), name="import"),
    path("import/<int:pk>/", clients.ClientImportStatus.as_view(), name="import-status"),
    path("import/<int:pk>/progress/", clients.ClientImportProgress.as_view(), name="import-progress"),
    path("import/<int:pk>/report.csv", clients.ClientImportReport.as_view(), name="import-report"),
    path("export/", clients.ClientExport.as_view(), name="export"),
    path("bulk/", clients.ClientBulk.as_view(), name="bulk"),
]
