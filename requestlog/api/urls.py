"""URLs of the request log API, included under /api/ by proxysite/urls.py.

`router` is also read by proxysite/urls.py, to list these collections on the
/api/ root page next to the routing config's. The schema and its docs page
(Swagger UI from the drf-spectacular-sidecar package, its start-up script a
file rather than inline, so the page runs under the strict CSP) live here too.
"""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from requestlog.api import views

router = SimpleRouter()
router.register("requests", views.RequestLogViewSet, basename="api-request")
router.register("conversations", views.ConversationViewSet, basename="api-conversation")
router.register("prices", views.ModelPriceViewSet, basename="api-price")

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("stats/", views.StatsView.as_view(), name="api-stats"),
    *router.urls,
]
