"""The REST API under /api/ (DRF): requests, conversations, stats, routing config."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from requestlog.api import views

router = DefaultRouter()
router.register("requests", views.RequestLogViewSet, basename="api-request")
router.register("conversations", views.ConversationViewSet, basename="api-conversation")
router.register("providers", views.ProviderViewSet, basename="api-provider")
router.register("credentials", views.CredentialViewSet, basename="api-credential")
router.register("aliases", views.ModelAliasViewSet, basename="api-alias")
router.register("agents", views.AgentDefinitionViewSet, basename="api-agent")
router.register("mappings", views.SubagentMappingViewSet, basename="api-mapping")
router.register("rules", views.RoutingRuleViewSet, basename="api-rule")
router.register("prices", views.ModelPriceViewSet, basename="api-price")

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("stats/", views.StatsView.as_view(), name="api-stats"),
    *router.urls,
]
