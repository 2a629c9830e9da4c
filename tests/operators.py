"""Users of the dashboard, the API and the admin, with exactly the permissions a test names.

- `staff_user(*perms)`: a staff user holding exactly `perms` ("app_label.codename").
- `staff_api_client(*perms)`: a DRF client signed in as one.
- `operator_client()`: staff holding every permission of `routing` and
  `requestlog`: what an operator who runs the gateway has.
- `log_reader_client()`: staff in the "log reader" group (a data migration).
"""

from __future__ import annotations

from itertools import count

from django.contrib.auth.models import Group, Permission, User
from django.db.models import Q
from rest_framework.test import APIClient

OPERATOR_APPS = ("routing", "requestlog")
_numbers = count(1)


def permission(name: str) -> Permission:
    app_label, codename = name.split(".")
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


def staff_user(*perms: str, username: str = "") -> User:
    user = User.objects.create_user(
        username or f"staff{next(_numbers)}", password="pw-for-tests-only", is_staff=True
    )
    user.user_permissions.set([permission(name) for name in perms])
    return user


def signed_in(user: User) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def staff_api_client(*perms: str) -> APIClient:
    return signed_in(staff_user(*perms))


def operator_client() -> APIClient:
    user = staff_user(username="operator")
    query = Q()
    for app in OPERATOR_APPS:
        query |= Q(content_type__app_label=app)
    user.user_permissions.set(Permission.objects.filter(query))
    return signed_in(user)


def log_reader_client() -> APIClient:
    user = staff_user(username="reader")
    user.groups.add(Group.objects.get(name="log reader"))
    return signed_in(user)
