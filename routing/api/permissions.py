"""Who may use the routing config API: the admin's rule, staff plus model permissions.

DRF's DjangoModelPermissions lets any authenticated user read; the admin asks
for the `view` permission, and so do we. Being staff is needed but never
enough: a staff user with no permission on a model gets 403, as in the admin.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import DjangoModelPermissions
from rest_framework.request import Request

VIEW = ["%(app_label)s.view_%(model_name)s"]


def is_active_staff(user: Any) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.is_staff)


class StaffModelPermissions(DjangoModelPermissions):
    """Staff, and view for GET/HEAD/OPTIONS, add for POST, change for PUT/PATCH, delete."""

    perms_map = {**DjangoModelPermissions.perms_map, "GET": VIEW, "HEAD": VIEW, "OPTIONS": VIEW}

    def has_permission(self, request: Request, view: Any) -> bool:
        return is_active_staff(request.user) and super().has_permission(request, view)
