"""Websocket routes (the dashboard's live feed attaches here)."""

websocket_urlpatterns: list = []
