"""Decides who serves a request: config models, admin, router, the /v1/* views."""
