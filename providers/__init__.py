"""Wire formats: one adapter per provider format, translation, HTTP client, SSE."""
