"""Decides who serves a request: config models and admin, the pure router, subagents,
sticky lanes, config import/export and the config's REST API. It imports only `providers`;
the request path that asks it lives in `gateway`.
"""
