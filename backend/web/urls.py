from django.urls import path

from . import subscribe, tracking, views
from .pages.dashboard import Dashboard
from .pages.manager import ManagerDashboard
from .pages.senders import ManagerRevoke, ManagerSenders

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("dashboard/", Dashboard.as_view(), name="dashboard"),
    path("manager/", ManagerDashboard.as_view(), name="manager"),
    path("manager/senders/", ManagerSenders.as_view(), name="manager_senders"),
    path("manager/senders/<int:pk>/revoke/", ManagerRevoke.as_view(), name="manager_revoke_sender"),
    path("unsubscribe/<str:signed>/", views.unsubscribe, name="unsubscribe"),
    path("preferences/<str:signed>/", views.preferences, name="preferences"),
    path("subscribe/<str:public_id>/", subscribe.subscribe, name="subscribe"),
    path("subscribe/<str:public_id>/sent/", subscribe.subscribe_sent, name="subscribe_sent"),
    path(
        "subscribe/<str:public_id>/confirm/<str:token>/",
        subscribe.subscribe_confirm,
        name="subscribe_confirm",
    ),
    path("t/o/<str:token>.gif", tracking.track_open, name="track_open"),
    path("t/c/<str:token>/", tracking.track_click, name="track_click"),
]
