from django.apps import AppConfig


class GatewayConfig(AppConfig):
    name = "gateway"
    verbose_name = "Gateway"

    def ready(self) -> None:
        """Connect `routing` and `requestlog`, which may not import each other."""
        from requestlog.lookup import logged_request
        from requestlog.writer import log_writer
        from routing.agent_matches import note_agent_matches
        from routing.try_route import set_logged_request_lookup

        log_writer.add_after_batch(note_agent_matches)
        set_logged_request_lookup(logged_request)
