"""What a list of users needs beyond its rows, batched per level (`core.dataloaders`)."""

from backend.accounts import roles
from backend.accounts.models import User
from backend.mailings import limits

from ..core.dataloaders import DataLoader


class ManagerPermissionLoader(DataLoader[int, bool]):
    """`roles.is_manager` for every user of a level in one query (`ManagedUser.isManager`)."""

    def batch_load(self, keys: list[int]) -> list[bool]:
        managers = set(roles.managers_among(User.objects.filter(pk__in=keys)).values_list("pk", flat=True))
        return [key in managers for key in keys]


class SentTodayLoader(DataLoader[int, int]):
    """Messages handed to the server today (each user's own day) for every user of a level, in two queries
    (`ManagedUser.sentToday`)."""

    def batch_load(self, keys: list[int]) -> list[int]:
        users = User.objects.filter(pk__in=keys).only("pk", "time_zone")
        counts = limits.sent_today_of(users)
        return [counts.get(key, 0) for key in keys]
