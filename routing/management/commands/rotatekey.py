"""Re-encrypt every stored credential from an old encryption key to the current one.

The current key is SWITCHBOARD_ENCRYPTION_KEY (or the data dir's
`encryption_key` file), as for the gateway. The old key is read from a file, not
the command line, so it never shows in `ps` or the shell history.

All or nothing: when one credential cannot be decrypted with either key, the
command names it and changes nothing. Credentials the current key already
decrypts are left alone, so running it twice is harmless.

Rows are updated without the save signals, on purpose: running workers keep
the credentials they decrypted with the old key until they restart, so a
worker is never left holding tokens it cannot read (docs/operations.md).
"""

from __future__ import annotations

from pathlib import Path

from cryptography.fernet import Fernet
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from routing import crypto
from routing.models import Credential


class Command(BaseCommand):
    help = (
        "Re-encrypt stored provider credentials from an old encryption key to the current "
        "SWITCHBOARD_ENCRYPTION_KEY."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--old-key-file",
            required=True,
            type=Path,
            help="file holding the previous Fernet key (e.g. a copy of data/encryption_key)",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="report what would change, write nothing"
        )

    def handle(self, *args, **options) -> None:
        old = self._old_fernet(options["old_key_file"])
        updates: dict[int, str] = {}
        current = 0
        unreadable: list[str] = []
        for cred in Credential.objects.select_related("provider").order_by("pk"):
            if crypto.readable_with_current_key(cred.encrypted_secret):
                current += 1
                continue
            try:
                updates[cred.pk] = crypto.reencrypt(cred.encrypted_secret, old)
            except ValueError:
                unreadable.append(str(cred))
        if unreadable:
            raise CommandError(
                "nothing changed: neither key decrypts "
                + ", ".join(unreadable)
                + " (re-enter those credentials in the admin, or find their key)"
            )
        if not options["dry_run"]:
            with transaction.atomic():
                for pk, token in updates.items():
                    Credential.objects.filter(pk=pk).update(encrypted_secret=token)
        verb = "would re-encrypt" if options["dry_run"] else "re-encrypted"
        self.stdout.write(
            f"{verb} {len(updates)} credential(s); {current} already used the current key"
        )
        if updates and not options["dry_run"]:
            self.stdout.write(
                "restart every gateway worker now, with the new key, so that each "
                "reads the re-encrypted credentials"
            )

    def _old_fernet(self, path: Path) -> Fernet:
        try:
            key = path.read_text()
        except OSError as exc:
            raise CommandError(f"cannot read --old-key-file: {exc}") from None
        try:
            return crypto.fernet_from_key(key)
        except ValueError as exc:
            raise CommandError(f"--old-key-file: {exc}") from None
