"""Export the routing config as YAML in the format `importconfig` reads.

API keys are left out unless `--with-secrets`; a file written with them is
created readable by its owner only.
"""

from __future__ import annotations

import os

from django.core.management.base import BaseCommand, CommandError, CommandParser

from routing.config_io import ConfigError, export_config

#: Permissions of an exported file that holds API keys.
SECRET_FILE_MODE = 0o600
#: Permissions of any other exported file, before the umask.
PLAIN_FILE_MODE = 0o666


class Command(BaseCommand):
    help = "Write providers, accounts, aliases, subagent mappings and rules as YAML."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--with-secrets",
            action="store_true",
            help="Include the accounts' API keys, decrypted.",
        )
        parser.add_argument("-o", "--output", metavar="FILE", help="Write here, not to stdout.")

    def handle(self, *args, **options) -> None:
        with_secrets: bool = options["with_secrets"]
        try:
            text = export_config(with_secrets=with_secrets)
        except ConfigError as exc:
            raise CommandError("\n".join(exc.errors)) from None
        output: str | None = options["output"]
        if not output:
            self.stdout.write(text, ending="")
            return
        mode = SECRET_FILE_MODE if with_secrets else PLAIN_FILE_MODE
        try:
            descriptor = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
            with os.fdopen(descriptor, "w", encoding="utf-8") as file:
                file.write(text)
        except OSError as exc:
            raise CommandError(f"{output}: cannot write: {exc.strerror}") from None
        if with_secrets:
            os.chmod(output, SECRET_FILE_MODE)  # an existing file keeps its mode on open
        self.stderr.write(f"wrote {output}")
