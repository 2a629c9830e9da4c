"""URLs of the routing config API, included under /api/ by proxysite/urls.py.

`router` is also read by proxysite/urls.py, to list these collections on the
/api/ root page next to the request log's.
"""

from rest_framework.routers import SimpleRouter

from routing.api import views

router = SimpleRouter()
router.register("providers", views.ProviderViewSet, basename="api-provider")
router.register("credentials", views.CredentialViewSet, basename="api-credential")
router.register("aliases", views.ModelAliasViewSet, basename="api-alias")
router.register("agents", views.AgentDefinitionViewSet, basename="api-agent")
router.register("mappings", views.SubagentMappingViewSet, basename="api-mapping")
router.register("rules", views.RoutingRuleViewSet, basename="api-rule")

urlpatterns = router.urls
