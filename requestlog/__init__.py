"""Records and shows: the log model, the off-path writer, statistics, pricing, the dashboard,
the log API and the live feed.

It imports only `providers`. What it needs of routing (stamping agents that
matched) reaches it through hooks that `gateway.apps` connects.
"""
