"""The in-memory copy of the routing config that the request path reads.

`current()` never touches the database once the first copy is loaded. A copy
is (re)built when this process saves config (signals), and when another
process did: a daemon thread compares the ConfigVersion counter every
SWITCHBOARD_CONFIG_POLL_SECONDS and rebuilds when it moved. Replacing the
reference is atomic, so readers see either the old or the new config whole.
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.db import close_old_connections

from routing.agents import AgentDefinition as Agent
from routing.config import (
    AliasConfig,
    CredentialConfig,
    MappingConfig,
    ProviderConfig,
    RoutingConfig,
    RuleConfig,
    TargetRef,
)
from routing.subagents import SubagentMatcher
from routing.targets import parse_target_list

logger = logging.getLogger(__name__)

_current: RoutingConfig | None = None
#: "provider/label" of the enabled credentials the loaded copy could not decrypt.
_unreadable: tuple[str, ...] = ()
_lock = threading.Lock()
_poller: threading.Thread | None = None


def build() -> RoutingConfig:
    """Read the config tables into a new immutable RoutingConfig (sync, does queries)."""
    return build_with_unreadable()[0]


def build_with_unreadable() -> tuple[RoutingConfig, tuple[str, ...]]:
    """build(), plus "provider/label" of each enabled credential it had to skip.

    A credential is skipped when it cannot be decrypted: SWITCHBOARD_ENCRYPTION_KEY
    is not the key it was stored with. /readyz reports them (load() keeps the list).
    """
    from routing.models import (
        AgentDefinition,
        ConfigVersion,
        Credential,
        ModelAlias,
        Provider,
        RoutingRule,
        SubagentMapping,
    )

    version_row = ConfigVersion.objects.order_by("pk").first()
    providers: dict[str, ProviderConfig] = {}
    default: str | None = None
    creds_by_provider: dict[int, list[CredentialConfig]] = {}
    unreadable: list[str] = []
    credentials = Credential.objects.filter(enabled=True, provider__enabled=True)
    for cred in credentials.select_related("provider").order_by("label"):
        try:
            secret = cred.secret()
        except ValueError as exc:
            logger.error("credential %s skipped: %s", cred.label, exc)
            unreadable.append(f"{cred.provider.name}/{cred.label}")
            continue
        creds_by_provider.setdefault(cred.provider_id, []).append(
            CredentialConfig(label=cred.label, secret=secret, weight=max(1, cred.weight))
        )
    for row in Provider.objects.filter(enabled=True):
        providers[row.name] = ProviderConfig(
            name=row.name,
            wire_format=row.wire_format,
            base_url=row.base_url,
            connect_timeout=row.connect_timeout or settings.SWITCHBOARD_CONNECT_TIMEOUT,
            read_timeout=row.read_timeout or settings.SWITCHBOARD_READ_TIMEOUT,
            extra_headers=tuple(sorted((row.extra_headers or {}).items())),
            credentials=tuple(creds_by_provider.get(row.pk, ())),
            preset=row.preset,
        )
        if row.is_default:
            default = row.name
    if default is None:
        default = _fallback_default(providers)
    aliases = {
        a.alias: AliasConfig(
            alias=a.alias,
            provider=a.provider.name,
            model=a.target_model,
            fallbacks=_refs(a.fallbacks),
        )
        for a in ModelAlias.objects.filter(enabled=True).select_related("provider")
    }
    mappings = {
        m.agent.name: MappingConfig(
            agent=m.agent.name,
            provider=m.provider.name,
            model=m.target_model,
            fallbacks=_refs(m.fallbacks),
        )
        for m in SubagentMapping.objects.filter(enabled=True).select_related("agent", "provider")
    }
    rules = tuple(
        RuleConfig(
            name=r.name,
            priority=r.priority,
            provider=r.provider.name,
            model=r.target_model,
            model_glob=r.model_glob,
            subagent=r.subagent,
            thinking=_tri(r.thinking),
            min_input_tokens=r.min_input_tokens,
            tool=r.tool,
            header_name=r.header_name,
            header_value=r.header_value,
            background=_tri(r.background),
            fallbacks=_refs(r.fallbacks),
            sticky=r.sticky,
        )
        for r in RoutingRule.objects.filter(enabled=True).select_related("provider")
    )
    agents = [
        Agent(
            name=a.name,
            description=a.description,
            model=a.declared_model or None,
            tools=tuple(a.tools or ()),
            body=a.body,
            fingerprint=a.fingerprint,
            source=a.path or a.source,
        )
        for a in AgentDefinition.objects.filter(present=True)
    ]
    config = RoutingConfig(
        version=version_row.version if version_row else 0,
        providers=providers,
        aliases=aliases,
        default_provider=default,
        mappings=mappings,
        rules=rules,
        matcher=SubagentMatcher(agents),
        background_models=tuple(settings.SWITCHBOARD_BACKGROUND_MODELS),
    )
    return config, tuple(sorted(unreadable))


def _refs(value: object) -> tuple[TargetRef, ...]:
    try:
        return tuple(TargetRef(p, m) for p, m in parse_target_list(value))
    except ValueError as exc:
        logger.error("fallbacks ignored: %s", exc)
        return ()


def _tri(value: str) -> bool | None:
    return {"yes": True, "no": False}.get(value)


def _fallback_default(providers: dict[str, ProviderConfig]) -> str | None:
    """Without an explicit default: `anthropic`, else the first Anthropic-format provider."""
    if "anthropic" in providers:
        return "anthropic"
    for name in sorted(providers):
        if providers[name].wire_format == "anthropic":
            return name
    return None


def current() -> RoutingConfig | None:
    """The loaded config, or None before the first load (callers then use load())."""
    return _current


def unreadable_credentials() -> tuple[str, ...]:
    """ "provider/label" of the credentials the loaded copy could not decrypt (never secrets)."""
    return _unreadable


def load() -> RoutingConfig:
    """Build and install a new copy. Sync: call it from a thread, never from the event loop."""
    global _current, _unreadable
    config, unreadable = build_with_unreadable()
    if unreadable:
        logger.error(
            "%d stored credential(s) cannot be decrypted with SWITCHBOARD_ENCRYPTION_KEY "
            "and are NOT used: %s. The key is not the one they were stored with: restore "
            "the old key, or re-encrypt them with `manage.py rotatekey --old-key-file FILE` "
            "(docs/operations.md). /readyz answers 503 until then.",
            len(unreadable),
            ", ".join(unreadable),
        )
    with _lock:
        _current = config
        _unreadable = unreadable
    return config


def reload_quietly() -> None:
    """load(), logging instead of raising (used from signals and the poller)."""
    try:
        load()
    except Exception:
        logger.exception("routing config reload failed; keeping the previous copy")


def reload_if_newer(version: int) -> None:
    """Another worker announced config `version` (via Redis): reload unless we have it."""
    if _current is not None and _current.version >= version:
        return
    reload_quietly()


def stored_version() -> int:
    from routing.models import ConfigVersion

    return ConfigVersion.objects.order_by("pk").values_list("version", flat=True).first() or 0


def start_poller() -> None:
    """Start (once per process) the thread that picks up changes made by other processes."""
    global _poller
    with _lock:
        if _poller is not None and _poller.is_alive():
            return
        _poller = threading.Thread(target=_poll_forever, name="config-poller", daemon=True)
        _poller.start()


def _poll_forever() -> None:
    """Reload on a version change; rescan agent files every AGENT_SCAN_SECONDS."""
    from routing.agent_sync import AgentWatcher

    interval = settings.SWITCHBOARD_CONFIG_POLL_SECONDS
    scan_every = settings.SWITCHBOARD_AGENT_SCAN_SECONDS
    watcher = AgentWatcher() if scan_every > 0 else None
    next_scan = 0.0
    stop = threading.Event()
    while True:
        try:
            close_old_connections()
            if watcher is not None and time.monotonic() >= next_scan:
                next_scan = time.monotonic() + scan_every
                watcher.poll()  # a change saves rows, which bumps the version
            loaded = _current.version if _current is not None else None
            if loaded != stored_version():
                load()
        except Exception:
            logger.exception("routing config poll failed; will retry")
        stop.wait(min(interval, scan_every) if watcher is not None else interval)
