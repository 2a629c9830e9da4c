from django.contrib import admin
from django.urls import include, path

from gateway import urls as gateway_urls

urlpatterns = [
    *gateway_urls.urlpatterns,
    path("admin/", admin.site.urls),
    path("api/", include("requestlog.api.urls")),
    path("", include("requestlog.dashboard.urls")),
]
