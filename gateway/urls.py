"""The URLconf of the gateway handler: only the /v1/* endpoints and the probes.

The gateway handler resolves with this instead of the site's URLconf, so a
worker that only proxies never imports the admin, the API and the dashboard
(tens of MB of RSS, measured in bench/); `proxysite.urls` includes the same
routes for the full site.
"""

from django.urls import path, re_path

from gateway import probes, views

urlpatterns = [
    path("v1/messages", views.messages, name="messages"),
    path("v1/messages/count_tokens", views.count_tokens, name="count-tokens"),
    path("v1/models", views.models, name="models"),
    re_path(r"^v1/(?P<rest>.*)$", views.passthrough, name="passthrough"),
    path("api/hello", probes.preflight, name="preflight"),
    path("healthz", probes.healthz, name="healthz"),
    path("readyz", probes.readyz, name="readyz"),
    path("metrics", probes.prometheus_metrics, name="metrics"),
]

handler400 = "gateway.fallback_errors.bad_request"
handler403 = "gateway.fallback_errors.permission_denied"
handler404 = "gateway.fallback_errors.not_found"
handler500 = "gateway.fallback_errors.server_error"
