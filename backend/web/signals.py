"""The domain's changes that the home page's counts depend on."""

from django.db.models.signals import m2m_changed, post_delete, post_save

from backend.mailings.models import Client, Mailing

from .stats import invalidate_home_stats


def connect() -> None:
    for model in (Mailing, Client):
        post_save.connect(
            invalidate_home_stats, sender=model, dispatch_uid=f"home-stats-save-{model.__name__}"
        )
        post_delete.connect(
            invalidate_home_stats, sender=model, dispatch_uid=f"home-stats-del-{model.__name__}"
        )
    m2m_changed.connect(invalidate_home_stats, sender=Mailing.clients.through, dispatch_uid="home-stats-m2m")
