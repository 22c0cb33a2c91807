from django.urls import path

from . import views
from .pages.dashboard import Dashboard
from .pages.manager import ManagerDashboard

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("dashboard/", Dashboard.as_view(), name="dashboard"),
    path("manager/", ManagerDashboard.as_view(), name="manager"),
    path("unsubscribe/<str:signed>/", views.unsubscribe, name="unsubscribe"),
]
