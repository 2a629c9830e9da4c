"""Config changes bump ConfigVersion and rebuild this process's snapshot.

Also seeds an `anthropic` provider after migrate on an empty database so the
gateway works out of the box as a logging passthrough.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.db.models.signals import post_delete, post_migrate, post_save
from django.dispatch import receiver

from providers.accounts import accounts
from routing import snapshot
from routing.models import (
    AgentDefinition,
    ConfigVersion,
    Credential,
    ModelAlias,
    Provider,
    RoutingRule,
    SubagentMapping,
)

CONFIG_MODELS = (Provider, Credential, ModelAlias, AgentDefinition, SubagentMapping, RoutingRule)


def bump_config_version() -> None:
    updated = ConfigVersion.objects.filter(pk=1).update(version=F("version") + 1)
    if not updated:
        ConfigVersion.objects.get_or_create(pk=1, defaults={"version": 1})
    transaction.on_commit(_after_commit)


def _after_commit() -> None:
    """Reload here, and tell the other workers (through Redis, when configured)."""
    snapshot.reload_quietly()
    if accounts.shared is not None:
        accounts.shared.publish_config_change(snapshot.stored_version())


def _on_config_change(sender, **kwargs) -> None:
    if kwargs.get("raw"):  # loaddata
        return
    bump_config_version()


for _model in CONFIG_MODELS:
    post_save.connect(_on_config_change, sender=_model, dispatch_uid=f"cfg-save-{_model.__name__}")
    post_delete.connect(
        _on_config_change, sender=_model, dispatch_uid=f"cfg-delete-{_model.__name__}"
    )


@receiver(post_migrate, dispatch_uid="seed-default-provider")
def seed_default_provider(sender, app_config=None, **kwargs) -> None:
    """On an empty database, create `anthropic` at SWITCHBOARD_UPSTREAM_URL."""
    if app_config is None or app_config.label != "routing":
        return
    using = kwargs.get("using", "default")
    if Provider.objects.using(using).exists():
        return
    Provider.objects.using(using).create(
        name="anthropic",
        wire_format="anthropic",
        base_url=settings.SWITCHBOARD_UPSTREAM_URL,
        is_default=True,
    )
