"""Each permission opens exactly its own door: in the API, the dashboard and the admin.

A staff user holding exactly one permission (parametrized over every
permission of `routing` and `requestlog`) tries every operation: the ones
that permission grants succeed, every other one gets 403. Being staff is
never enough on its own; superusers keep everything. The /api/ root page, the
schema and its docs describe the API rather than its data: any permission of
the two apps opens them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from rest_framework.test import APIClient

from requestlog.models import ModelPrice
from routing.models import (
    AgentDefinition,
    Credential,
    ModelAlias,
    Provider,
    RoutingRule,
    SubagentMapping,
)
from tests.logrows import make_row
from tests.operators import OPERATOR_APPS, signed_in, staff_user

pytestmark = pytest.mark.django_db

SECRET = "sk-stored-secret-0123456789"
LOG_KEY = "session-1"


def agent_file(name: str) -> str:
    return f"---\nname: {name}\ndescription: d\n---\nYou are {name}.\n"


@dataclass
class Config:
    provider: Provider
    credential: Credential
    alias: ModelAlias
    agent: AgentDefinition
    mapping: SubagentMapping
    rule: RoutingRule
    price: ModelPrice
    request_id: str


@pytest.fixture
def config() -> Config:
    provider = Provider.objects.create(name="team", base_url="https://example.com")
    credential = Credential(provider=provider, label="main")
    credential.set_secret(SECRET)
    credential.save()
    agent = AgentDefinition.objects.create(
        name="reviewer", fingerprint="0" * 16, body="You are reviewer.", source="uploaded"
    )
    AgentDefinition.objects.create(
        name="planner", fingerprint="1" * 16, body="You are planner.", source="uploaded"
    )
    return Config(
        provider=provider,
        credential=credential,
        alias=ModelAlias.objects.create(alias="fast", provider=provider, target_model="m"),
        agent=agent,
        mapping=SubagentMapping.objects.create(agent=agent, provider=provider, target_model="m"),
        rule=RoutingRule.objects.create(name="r", priority=1, provider=provider, target_model="m"),
        price=ModelPrice.objects.create(
            model_pattern="x-*",
            input_per_mtok=1,
            output_per_mtok=1,
            cache_read_per_mtok=1,
            cache_write_per_mtok=1,
        ),
        request_id=make_row(conversation_key=LOG_KEY).request_id,
    )


@dataclass(frozen=True)
class Operation:
    """One thing a user may try; `granted_by` is the permission that allows it."""

    name: str
    granted_by: str
    call: Callable[[APIClient, Config], Any]


def _collection(
    prefix: str, app: str, model: str, create: dict[str, Any], change: dict[str, Any]
) -> list[Operation]:
    item: Callable[[Config], int] = lambda c: getattr(c, _FIXTURE_NAME[model]).pk  # noqa: E731
    return [
        Operation(f"list {prefix}", f"{app}.view_{model}", lambda a, c: a.get(f"/api/{prefix}/")),
        Operation(
            f"read one {prefix}",
            f"{app}.view_{model}",
            lambda a, c: a.get(f"/api/{prefix}/{item(c)}/"),
        ),
        Operation(
            f"create {prefix}",
            f"{app}.add_{model}",
            lambda a, c: a.post(f"/api/{prefix}/", create, format="json"),
        ),
        Operation(
            f"change {prefix}",
            f"{app}.change_{model}",
            lambda a, c: a.patch(f"/api/{prefix}/{item(c)}/", change, format="json"),
        ),
        Operation(
            f"delete {prefix}",
            f"{app}.delete_{model}",
            lambda a, c: a.delete(f"/api/{prefix}/{item(c)}/"),
        ),
    ]


_FIXTURE_NAME = {
    "provider": "provider",
    "credential": "credential",
    "modelalias": "alias",
    "agentdefinition": "agent",
    "subagentmapping": "mapping",
    "routingrule": "rule",
    "modelprice": "price",
}

VIEW_LOG = "requestlog.view_requestlog"

OPERATIONS = [
    *_collection(
        "providers",
        "routing",
        "provider",
        {"name": "new", "base_url": "https://new.example.com"},
        {"read_timeout": 30},
    ),
    *_collection(
        "credentials",
        "routing",
        "credential",
        {"provider": "team", "label": "second", "secret": "sk-second-key-99"},
        {"weight": 3},
    ),
    *_collection(
        "aliases",
        "routing",
        "modelalias",
        {"alias": "slow", "provider": "team", "target_model": "m2"},
        {"target_model": "m3"},
    ),
    *_collection(
        "agents",
        "routing",
        "agentdefinition",
        {"agent_file": agent_file("writer")},
        {"agent_file": agent_file("reviewer")},
    ),
    *_collection(
        "mappings",
        "routing",
        "subagentmapping",
        {"agent": "planner", "provider": "team", "target_model": "m"},
        {"target_model": "m4"},
    ),
    *_collection(
        "rules",
        "routing",
        "routingrule",
        {"name": "r2", "priority": 2, "provider": "team", "target_model": "m"},
        {"priority": 7},
    ),
    *_collection(
        "prices",
        "requestlog",
        "modelprice",
        {
            "model_pattern": "y-*",
            "input_per_mtok": "1",
            "output_per_mtok": "1",
            "cache_read_per_mtok": "1",
            "cache_write_per_mtok": "1",
        },
        {"note": "checked"},
    ),
    Operation("list requests", VIEW_LOG, lambda a, c: a.get("/api/requests/")),
    Operation("read a request", VIEW_LOG, lambda a, c: a.get(f"/api/requests/{c.request_id}/")),
    Operation("list conversations", VIEW_LOG, lambda a, c: a.get("/api/conversations/")),
    Operation(
        "read a conversation", VIEW_LOG, lambda a, c: a.get(f"/api/conversations/{LOG_KEY}/")
    ),
    Operation("read stats", VIEW_LOG, lambda a, c: a.get("/api/stats/")),
    Operation("dashboard requests", VIEW_LOG, lambda a, c: a.get("/")),
    Operation("dashboard request", VIEW_LOG, lambda a, c: a.get(f"/requests/{c.request_id}/")),
    Operation("dashboard conversations", VIEW_LOG, lambda a, c: a.get("/conversations/")),
    Operation("dashboard conversation", VIEW_LOG, lambda a, c: a.get(f"/conversations/{LOG_KEY}/")),
    Operation("dashboard usage", VIEW_LOG, lambda a, c: a.get("/usage/")),
]

#: Pages that describe the API: open to staff holding any permission of its apps.
DESCRIPTIONS = ["/api/", "/api/schema/", "/api/docs/"]


def every_permission() -> list[str]:
    """Every permission of the apps the API and dashboard serve (known without a database)."""
    names = []
    for model in _FIXTURE_NAME:
        app = "requestlog" if model == "modelprice" else "routing"
        names += [f"{app}.{action}_{model}" for action in ("view", "add", "change", "delete")]
    return [*names, VIEW_LOG, "requestlog.add_requestlog"]


def test_every_listed_permission_exists():
    existing = {
        f"{p.content_type.app_label}.{p.codename}"
        for p in Permission.objects.filter(content_type__app_label__in=OPERATOR_APPS)
    }
    assert set(every_permission()) <= existing


def test_the_permissions_not_listed_open_nothing(config):
    """Rollup tables, config versions, changing log rows: none opens any operation."""
    others = Permission.objects.filter(content_type__app_label__in=OPERATOR_APPS).exclude(
        codename__in=[name.split(".")[1] for name in every_permission()]
    )
    assert others.exists()
    user = staff_user()
    user.user_permissions.set(others)
    client = signed_in(user)

    for operation in OPERATIONS:
        assert operation.call(client, config).status_code == 403, operation.name


@pytest.mark.parametrize("perm", every_permission())
def test_a_staff_user_with_one_permission_can_do_that_one_thing_only(config, perm):
    client = signed_in(staff_user(perm))

    for operation in OPERATIONS:
        response = operation.call(client, config)
        if operation.granted_by == perm:
            assert response.status_code in (200, 201, 204), (operation.name, response.content)
        else:
            assert response.status_code == 403, (operation.name, response.status_code)
    for url in DESCRIPTIONS:
        assert client.get(url).status_code == 200, url


def test_a_staff_user_without_permissions_can_do_nothing(config):
    client = signed_in(staff_user())

    for operation in OPERATIONS:
        assert operation.call(client, config).status_code == 403, operation.name
    for url in DESCRIPTIONS:
        assert client.get(url).status_code == 403, url


def test_a_superuser_can_do_everything(config):
    client = APIClient()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    # Deletes last, dependents first: deleting the provider takes its credentials along.
    deletes = [op for op in OPERATIONS if op.name.startswith("delete")]
    in_order = [op for op in OPERATIONS if op not in deletes] + deletes[::-1]

    for operation in in_order:
        response = operation.call(client, config)
        assert response.status_code in (200, 201, 204), (operation.name, response.content)
    for url in DESCRIPTIONS:
        assert client.get(url).status_code == 200, url


def test_the_log_reader_group_reads_the_log_and_prices_and_nothing_else(config):
    from tests.operators import log_reader_client

    client = log_reader_client()

    for operation in OPERATIONS:
        response = operation.call(client, config)
        allowed = operation.granted_by == VIEW_LOG or operation.name in (
            "list prices",
            "read one prices",
        )
        assert (response.status_code == 200) if allowed else (response.status_code == 403), (
            operation.name
        )


# --- a provider's stored keys follow its base_url --------------------------------------
MOVES = [
    {"base_url": "https://attacker.example.net"},
    {"extra_headers": {"x-forward-to": "attacker"}},
]


@pytest.mark.parametrize("change", MOVES)
def test_moving_a_provider_with_credentials_needs_the_credential_permission(config, change):
    client = signed_in(staff_user("routing.change_provider", "routing.view_provider"))

    response = client.patch(f"/api/providers/{config.provider.pk}/", change, format="json")

    assert response.status_code == 403
    assert "credentials" in response.json()["detail"]
    config.provider.refresh_from_db()
    assert config.provider.base_url == "https://example.com"
    assert config.provider.extra_headers in ({}, None)


@pytest.mark.parametrize("change", MOVES)
def test_a_user_who_may_change_credentials_may_move_the_provider(config, change):
    client = signed_in(staff_user("routing.change_provider", "routing.change_credential"))

    response = client.patch(f"/api/providers/{config.provider.pk}/", change, format="json")

    assert response.status_code == 200, response.content


def test_a_provider_without_credentials_moves_with_change_provider_alone(config):
    bare = Provider.objects.create(name="bare", base_url="https://bare.example.com")
    client = signed_in(staff_user("routing.change_provider"))

    response = client.patch(
        f"/api/providers/{bare.pk}/", {"base_url": "https://elsewhere.example.com"}, format="json"
    )

    assert response.status_code == 200, response.content


def test_resending_the_same_base_url_is_no_move(config):
    client = signed_in(staff_user("routing.change_provider"))

    response = client.put(
        f"/api/providers/{config.provider.pk}/",
        {"name": "team", "base_url": "https://example.com", "read_timeout": 30},
        format="json",
    )

    assert response.status_code == 200, response.content


def admin_provider_form(provider: Provider, **changes: Any) -> dict[str, Any]:
    """The provider's admin change form as the browser would post it, with `changes`."""
    form = {
        "name": provider.name,
        "wire_format": provider.wire_format,
        "preset": provider.preset,
        "base_url": provider.base_url,
        "enabled": "on",
        "connect_timeout": "",
        "read_timeout": "",
        "extra_headers": "{}",
        "credentials-TOTAL_FORMS": "0",
        "credentials-INITIAL_FORMS": "0",
    }
    form.update(changes)
    return form


def test_the_admin_refuses_to_move_a_provider_with_credentials_without_the_permission(config):
    user = staff_user("routing.change_provider", "routing.view_provider")
    browser = Client()
    browser.force_login(user)

    response = browser.post(
        f"/admin/routing/provider/{config.provider.pk}/change/",
        admin_provider_form(config.provider, base_url="https://attacker.example.net"),
    )

    assert response.status_code == 200  # the form again, with its error
    errors = response.context["adminform"].form.errors
    assert "credentials" in " ".join(errors["base_url"])
    config.provider.refresh_from_db()
    assert config.provider.base_url == "https://example.com"


def test_the_admin_lets_a_credential_manager_move_a_provider(config):
    user = staff_user(
        "routing.change_provider",
        "routing.view_provider",
        "routing.change_credential",
        "routing.view_credential",
    )
    browser = Client()
    browser.force_login(user)
    form = admin_provider_form(config.provider, base_url="https://elsewhere.example.com")
    form.update(
        {
            "credentials-TOTAL_FORMS": "1",
            "credentials-INITIAL_FORMS": "1",
            "credentials-0-id": str(config.credential.pk),
            "credentials-0-provider": str(config.provider.pk),
            "credentials-0-label": "main",
            "credentials-0-weight": "1",
            "credentials-0-enabled": "on",
        }
    )

    response = browser.post(f"/admin/routing/provider/{config.provider.pk}/change/", form)

    assert response.status_code == 302, response.context["adminform"].form.errors
    config.provider.refresh_from_db()
    assert config.provider.base_url == "https://elsewhere.example.com"
    assert Credential.objects.get(pk=config.credential.pk).secret() == SECRET


# --- the try-route page -------------------------------------------------------------------
def test_trying_a_route_needs_the_permission_to_view_rules(config):
    browser = Client()
    browser.force_login(staff_user("routing.view_provider"))

    assert browser.get("/admin/routing/routingrule/try/").status_code == 403


def test_replaying_a_logged_request_needs_the_permission_to_view_the_log(config):
    browser = Client()
    browser.force_login(staff_user("routing.view_routingrule"))

    response = browser.post("/admin/routing/routingrule/try/", {"request_id": config.request_id})

    assert response.status_code == 200
    assert "permission to view request logs" in response.content.decode()
    assert "hello there" not in response.content.decode()  # the logged prompt


def test_a_rule_viewer_who_reads_the_log_may_replay_a_logged_request(config):
    browser = Client()
    browser.force_login(staff_user("routing.view_routingrule", VIEW_LOG))

    response = browser.post("/admin/routing/routingrule/try/", {"request_id": config.request_id})

    assert response.status_code == 200
    assert "result" in response.context and response.context["result"] is not None
