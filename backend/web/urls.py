from django.urls import path

from . import views
from .pages.dashboard import Dashboard

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("dashboard/", Dashboard.as_view(), name="dashboard"),
    path("unsubscribe/<str:signed>/", views.unsubscribe, name="unsubscribe"),
]
