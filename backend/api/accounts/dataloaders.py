"""What a list of users needs beyond its rows, batched per level (`core.dataloaders`)."""

from backend.accounts import selectors
from backend.accounts.models import User
from backend.mailings import selectors as mailing_selectors

from ..core.dataloaders import DataLoader


class ManagerPermissionLoader(DataLoader[int, bool]):
    """Whether each user holds the managers' permission to view every mailing, directly or through a
    group (`ManagedUser.isManager`)."""

    def batch_load(self, keys: list[int]) -> list[bool]:
        users = User.objects.filter(pk__in=keys)
        granted = set(
            selectors.granted(users, mailing_selectors.VIEW_ALL_MAILINGS).values_list("pk", flat=True)
        )
        return [key in granted for key in keys]
