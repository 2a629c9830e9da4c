"""Applying: a `ConfigDocument` written to the database in one transaction, or not at all.

Rows are upserted by name, and saved only when a field differs so unchanged
rows don't bump the config version. `replace` also deletes what the file
does not mention, except agent definitions, which come from disk.
"""

from __future__ import annotations

from django.db import transaction

from routing.config_io.apply_providers import apply_credentials, apply_providers
from routing.config_io.apply_routes import apply_agents, apply_aliases, apply_mappings, apply_rules
from routing.config_io.document import ConfigDocument
from routing.config_io.errors import ConfigError
from routing.config_io.report import ApplyReport
from routing.models import Credential, ModelAlias, Provider, RoutingRule, SubagentMapping


def apply_config(
    doc: ConfigDocument, *, replace: bool = False, dry_run: bool = False
) -> ApplyReport:
    """Write `doc` to the database in one transaction. Raises ConfigError, changing nothing.

    Rows are matched by name (credentials by provider and label). Without
    `replace`, rows the file does not mention are kept; with it, they are
    deleted (agent definitions excepted: they come from disk). `dry_run`
    rolls everything back and reports what would have happened.
    """
    report = ApplyReport(warnings=list(doc.warnings), dry_run=dry_run)
    with transaction.atomic():
        _check_against_database(doc, replace)
        providers = apply_providers(doc, report)
        apply_credentials(doc, providers, replace, report)
        apply_agents(doc, report)
        apply_aliases(doc, report)
        apply_mappings(doc, report)
        apply_rules(doc, report)
        if replace:
            _delete_unmentioned(doc, report)
        if dry_run:
            transaction.set_rollback(True)
    return report


def _check_against_database(doc: ConfigDocument, replace: bool) -> None:
    errors: list[str] = []
    in_database = set(Provider.objects.values_list("name", flat=True))
    for name, where in doc.external_providers:
        if replace:
            errors.append(
                f"{where}: provider {name!r} is not in the file, and --replace deletes it"
            )
        elif name not in in_database:
            errors.append(f"{where}: unknown provider {name!r}")
    stored = {
        (provider, label)
        for provider, label in Credential.objects.values_list("provider__name", "label")
    }
    for spec in doc.providers:
        for account in spec.accounts:
            if account.api_key is None and (spec.name, account.label) not in stored:
                errors.append(f"{account.where}: api_key: required for a new account")
    if errors:
        raise ConfigError(errors)


def _delete_unmentioned(doc: ConfigDocument, report: ApplyReport) -> None:
    """Dependants first, so each deletion is counted under its own kind, not cascaded."""
    kinds = report.kinds
    for row in RoutingRule.objects.exclude(name__in=[r.name for r in doc.rules]):
        kinds["rules"].deleted.append(row.name)
        row.delete()
    for row in ModelAlias.objects.exclude(alias__in=[a.alias for a in doc.aliases]):
        kinds["aliases"].deleted.append(row.alias)
        row.delete()
    mapped = [m.agent for m in doc.mappings]
    for row in SubagentMapping.objects.exclude(agent__name__in=mapped).select_related("agent"):
        kinds["mappings"].deleted.append(row.agent.name)
        row.delete()
    for row in Provider.objects.exclude(name__in=[p.name for p in doc.providers]):
        for credential in row.credentials.all():
            kinds["credentials"].deleted.append(f"{row.name}/{credential.label}")
            credential.delete()
        kinds["providers"].deleted.append(row.name)
        row.delete()
