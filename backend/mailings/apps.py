from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from .signing import operator_key


class MailingsConfig(AppConfig):
    name = "backend.mailings"
    label = "mailings"
    verbose_name = _("Mailings")

    def ready(self) -> None:
        # The operator's DKIM key is read when a process starts: a missing or bad file stops it here, with
        # a message naming the setting, not when the first message is sent (R-DLV-2).
        operator_key()
