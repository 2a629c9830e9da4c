from django.apps import AppConfig


class GatewayConfig(AppConfig):
    name = "gateway"
    verbose_name = "Gateway"

    def ready(self) -> None:
        """Connect `routing` and `requestlog`, which may not import each other."""
        from requestlog.lookup import logged_request
        from routing.try_route import set_logged_request_lookup

        set_logged_request_lookup(logged_request)
