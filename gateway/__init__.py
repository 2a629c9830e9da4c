"""The /v1/* request path: ingress, authentication, routing, attempts, relay, finish.

`gateway` is the only app that may import all the others (SPEC §2): it asks
`routing` to decide, `providers` to speak the wire formats, and hands the
finished exchange to `requestlog`. It also wires the few interfaces between
those apps that must not import each other (see `apps.GatewayConfig.ready`).
"""
