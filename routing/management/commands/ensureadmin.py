"""Make sure an admin login exists, without ever printing a password.

- a superuser exists already: nothing to do;
- SWITCHBOARD_ADMIN_PASSWORD (or _FILE) is set: creates SWITCHBOARD_ADMIN_USER
  (default `admin`) with it;
- a terminal is attached: asks for a password;
- otherwise: says how to create one, and succeeds (the gateway still starts).
"""

from __future__ import annotations

import getpass
import os
import sys

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from proxysite.env import envsecret


class Command(BaseCommand):
    help = "Create the first admin user if there is none (see module docstring)."

    def handle(self, *args, **options) -> None:
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            self.stdout.write("admin user: already set up")
            return
        username = os.environ.get("SWITCHBOARD_ADMIN_USER", "admin")
        password = envsecret("SWITCHBOARD_ADMIN_PASSWORD")
        if not password and sys.stdin.isatty():
            self.stdout.write(f"No admin user yet. Choose a password for {username!r}.")
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("the two passwords differ; run `manage.py ensureadmin` again")
        if not password:
            self.stdout.write(
                "admin user: none yet. Create one with `python manage.py createsuperuser`, "
                "or set SWITCHBOARD_ADMIN_PASSWORD and run `python manage.py ensureadmin`."
            )
            return
        User.objects.create_superuser(username=username, email="", password=password)
        self.stdout.write(f"admin user: created {username!r}")
