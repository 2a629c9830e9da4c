"""Who may read the log API: staff holding `requestlog.view_requestlog`.

Being staff is needed but never enough (the admin's rule): logged bodies hold
prompts, code and answers, so reading requests, conversations and statistics
takes the view permission on the request log; prices use the model
permissions of ModelPrice. The "log reader" group (a data migration) holds
both view permissions.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission, DjangoModelPermissions
from rest_framework.request import Request

#: What reading the request log, its conversations and statistics takes.
VIEW_LOG = "requestlog.view_requestlog"
VIEW = ["%(app_label)s.view_%(model_name)s"]
#: Apps whose permissions count as "uses the API" for the schema and the root page.
API_APPS = ("requestlog", "routing")


def is_active_staff(user: Any) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.is_staff)


class CanReadLog(BasePermission):
    """Staff with `requestlog.view_requestlog`; reads only (the gateway writes the log)."""

    message = "Reading the request log needs the permission to view request logs."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return is_active_staff(user) and user.has_perm(VIEW_LOG)


class StaffModelPermissions(DjangoModelPermissions):
    """Staff, and view for GET/HEAD/OPTIONS, add for POST, change for PUT/PATCH, delete."""

    perms_map = {**DjangoModelPermissions.perms_map, "GET": VIEW, "HEAD": VIEW, "OPTIONS": VIEW}

    def has_permission(self, request: Request, view: Any) -> bool:
        return is_active_staff(request.user) and super().has_permission(request, view)


class UsesTheApi(BasePermission):
    """Staff holding any permission of the API's apps: the root page, the schema, the docs.

    They describe the API, not its data; every endpoint checks its own permission.
    """

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return is_active_staff(user) and any(user.has_module_perms(app) for app in API_APPS)
