from django.contrib import admin
from django.urls import include, path
from rest_framework.routers import DefaultRouter

from gateway import urls as gateway_urls
from requestlog.api import urls as log_api
from routing.api import urls as routing_api

# One /api/ root page listing the collections of both API modules.
api_root = DefaultRouter()
api_root.registry.extend([*log_api.router.registry, *routing_api.router.registry])

urlpatterns = [
    *gateway_urls.urlpatterns,
    path("admin/", admin.site.urls),
    path("api/", api_root.get_api_root_view(), name="api-root"),
    path("api/", include(log_api)),
    path("api/", include(routing_api)),
    path("", include("requestlog.dashboard.urls")),
]
