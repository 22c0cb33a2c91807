"""The Django admin's app config: it installs the superusers-only site of backend/admin_site.py.

A module of its own because an app config is imported before the models are ready; the site imports models.
"""

from django.contrib.admin.apps import AdminConfig


class MailerAdminConfig(AdminConfig):
    default_site = "backend.admin_site.MailerAdminSite"
