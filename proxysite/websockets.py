"""Websocket routes: the dashboard's live request feed."""

from django.urls import path

from requestlog.consumers import RequestFeedConsumer

websocket_urlpatterns: list = [
    path("ws/requests/", RequestFeedConsumer.as_asgi()),
]
