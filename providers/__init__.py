"""Wire formats: one adapter per provider format, translation, HTTP client, SSE.

It knows nothing of routing or the log: a provider and its credentials
reach it as `providers.config` values.
"""
