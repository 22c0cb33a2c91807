"""What a list of users needs beyond its rows, batched per level (`core.dataloaders`)."""

from backend.accounts import roles
from backend.accounts.models import User

from ..core.dataloaders import DataLoader


class ManagerPermissionLoader(DataLoader[int, bool]):
    """`roles.is_manager` for every user of a level in one query (`ManagedUser.isManager`)."""

    def batch_load(self, keys: list[int]) -> list[bool]:
        managers = set(roles.managers_among(User.objects.filter(pk__in=keys)).values_list("pk", flat=True))
        return [key in managers for key in keys]
