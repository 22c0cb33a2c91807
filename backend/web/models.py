"""Operational records of the running service (not domain data)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class SchedulerHeartbeat(models.Model):
    """One row per scheduler process, touched at every tick of its scheduler: `/readyz`
    reads the youngest. Rows of processes gone for an hour are pruned by the live ones."""

    process = models.CharField(_("process"), max_length=255, unique=True, help_text=_("host:pid"))
    started_at = models.DateTimeField(_("started at"))
    last_tick_at = models.DateTimeField(_("last tick at"))

    class Meta:
        verbose_name = _("scheduler heartbeat")
        verbose_name_plural = _("scheduler heartbeats")

    def __str__(self) -> str:
        return f"{self.process}: {self.last_tick_at.isoformat()}"
