"""CRUD for the routing config: providers, credentials, aliases, agents, mappings, rules.

Staff with the admin's model permissions (see `permissions.py`), by session
or token. Writes are validated as the admin validates (see
`routing.serializers`), and take effect without a restart.
"""

from __future__ import annotations

from rest_framework import viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.serializers import BaseSerializer

from routing.api.permissions import StaffModelPermissions
from routing.connection_guard import REFUSAL, may_change_connection
from routing.models import (
    AgentDefinition,
    Credential,
    ModelAlias,
    Provider,
    RoutingRule,
    SubagentMapping,
)
from routing.serializers import (
    AgentDefinitionSerializer,
    CredentialSerializer,
    ModelAliasSerializer,
    ProviderSerializer,
    RoutingRuleSerializer,
    SubagentMappingSerializer,
)


class RoutingConfigViewSet(viewsets.ModelViewSet):
    permission_classes = [StaffModelPermissions]


class ProviderViewSet(RoutingConfigViewSet):
    """Upstreams. Moving one that holds credentials (base_url, extra_headers) needs
    the permission to change credentials too, since its keys would follow."""

    queryset = Provider.objects.all()
    serializer_class = ProviderSerializer

    def perform_update(self, serializer: BaseSerializer) -> None:
        if not may_change_connection(
            self.request.user, serializer.instance, serializer.validated_data
        ):
            raise PermissionDenied(REFUSAL)
        super().perform_update(serializer)


class CredentialViewSet(RoutingConfigViewSet):
    """Provider keys: `secret` is write-only and never returned; `masked` hints at it."""

    queryset = Credential.objects.select_related("provider")
    serializer_class = CredentialSerializer


class ModelAliasViewSet(RoutingConfigViewSet):
    queryset = ModelAlias.objects.select_related("provider")
    serializer_class = ModelAliasSerializer


class AgentDefinitionViewSet(RoutingConfigViewSet):
    queryset = AgentDefinition.objects.select_related("mapping__provider")
    serializer_class = AgentDefinitionSerializer


class SubagentMappingViewSet(RoutingConfigViewSet):
    queryset = SubagentMapping.objects.select_related("agent", "provider")
    serializer_class = SubagentMappingSerializer


class RoutingRuleViewSet(RoutingConfigViewSet):
    queryset = RoutingRule.objects.select_related("provider")
    serializer_class = RoutingRuleSerializer
