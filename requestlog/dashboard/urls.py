"""The operator dashboard at / (server-rendered pages, live feed over a websocket).

`HEAD /` is Claude Code's preflight and never reaches these views (see
proxysite/asgi.py). `static/` is served here too, so the dashboard and the
admin have their CSS and scripts under Daphne without a separate web server.
"""

from django.urls import path, re_path, register_converter

from requestlog.conversation_links import ConversationKeyConverter
from requestlog.dashboard import static, views

register_converter(ConversationKeyConverter, "conversation_key")

app_name = "dashboard"

urlpatterns = [
    path("", views.requests_list, name="requests"),
    path("requests/<str:request_id>/", views.request_detail, name="request"),
    path("conversations/", views.conversation_list, name="conversations"),
    # A key comes from a client and may hold anything: see conversation_links.
    path("conversations/<conversation_key:key>/", views.conversation_detail, name="conversation"),
    path("usage/", views.usage, name="usage"),
    re_path(r"^static/(?P<path>.+)$", static.serve, name="static"),
]
