from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CmsConfig(AppConfig):
    name = "cms"
    label = "cms"
    verbose_name = _("Blog")

    def ready(self) -> None:
        from . import signals  # noqa: F401 - connects the cache invalidation receivers
