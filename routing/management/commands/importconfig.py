"""Import a routing config file: the Go claude-code-proxy's config.yaml or our superset.

Every problem is printed as FILE:LINE: path: message, and then nothing is
changed. `--dry-run` validates and applies inside a transaction that is rolled
back, so the report shows what an import would do.
"""

from __future__ import annotations

import os
import sys

from django.core.management.base import BaseCommand, CommandError, CommandParser

from routing.config_io import ConfigError, apply_config, load_config_document
from routing.models import Provider


class Command(BaseCommand):
    help = "Import providers, accounts, aliases, subagent mappings and rules from a YAML file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="The YAML file, or - for standard input.")
        parser.add_argument(
            "--replace",
            action="store_true",
            help="Also delete providers, accounts, aliases, mappings and rules the file omits.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Validate and report what would change, then roll back.",
        )

    def handle(self, *args, **options) -> None:
        path: str = options["file"]
        replace: bool = options["replace"]
        text = self.read(path)
        # Without --replace a file may target providers it does not define.
        known = () if replace else set(Provider.objects.values_list("name", flat=True))
        source = "<stdin>" if path == "-" else path
        try:
            doc = load_config_document(text, source=source, env=os.environ, known_providers=known)
            report = apply_config(doc, replace=replace, dry_run=options["dry_run"])
        except ConfigError as exc:
            for error in exc.errors:
                self.stderr.write(error)
            count = len(exc.errors)
            raise CommandError(
                f"{source}: {count} error{'s' if count != 1 else ''}; nothing was changed"
            ) from None
        for warning in report.warnings:
            self.stderr.write(f"warning: {warning}")
        if report.dry_run:
            self.stdout.write(f"Dry run of {source} (nothing was changed):")
        else:
            self.stdout.write(f"Imported {source}{' (replacing)' if replace else ''}:")
        self.stdout.write(str(report))

    @staticmethod
    def read(path: str) -> str:
        if path == "-":
            return sys.stdin.read()
        try:
            with open(path, encoding="utf-8") as file:
                return file.read()
        except OSError as exc:
            raise CommandError(f"{path}: cannot read: {exc.strerror}") from None
        except UnicodeDecodeError as exc:
            raise CommandError(f"{path}: not UTF-8 text (byte {exc.start})") from None
