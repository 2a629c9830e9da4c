from django.apps import AppConfig
from django.core import checks


class RequestLogConfig(AppConfig):
    name = "requestlog"
    verbose_name = "Request log"

    def ready(self) -> None:
        from requestlog.checks import rollup_triggers

        checks.register(rollup_triggers, checks.Tags.database)
