"""The operator dashboard at / (server-rendered pages, live feed over a websocket)."""
