from django.contrib import admin
from django.urls import include, path, re_path

from routing import views

urlpatterns = [
    path("v1/messages", views.messages, name="messages"),
    path("v1/messages/count_tokens", views.count_tokens, name="count-tokens"),
    path("v1/models", views.models, name="models"),
    re_path(r"^v1/(?P<rest>.*)$", views.passthrough, name="passthrough"),
    path("api/hello", views.preflight, name="preflight"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", views.prometheus_metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/", include("requestlog.api.urls")),
    path("", include("requestlog.dashboard.urls")),
]
