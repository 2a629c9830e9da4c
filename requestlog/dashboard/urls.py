"""The operator dashboard at / (server-rendered pages, live feed over a websocket).

`HEAD /` is Claude Code's preflight and never reaches these views (see
proxysite/asgi.py). `static/` is served here too, so the dashboard and the
admin have their CSS and scripts under Daphne without a separate web server.
"""

from django.urls import path, re_path

from requestlog.dashboard import static, views

app_name = "dashboard"

urlpatterns = [
    path("", views.requests_list, name="requests"),
    path("requests/<str:request_id>/", views.request_detail, name="request"),
    path("conversations/", views.conversation_list, name="conversations"),
    # A session id comes from a client header: it may hold a slash.
    path("conversations/<path:key>/", views.conversation_detail, name="conversation"),
    path("usage/", views.usage, name="usage"),
    re_path(r"^static/(?P<path>.+)$", static.serve, name="static"),
]
