"""The Content-Security-Policy middleware: django-csp, styles relaxed where others' pages need it.

CONTENT_SECURITY_POLICY in settings is strict: scripts and styles only from
the gateway's own files. Django's admin (a `<style>` block on change lists)
and DRF's browsable API and Swagger UI page (style attributes, a `<style>`
block) are not ours to change, so under RELAXED_STYLE_PREFIXES inline styles
are allowed too; scripts stay strict everywhere.
"""

from __future__ import annotations

from csp.constants import UNSAFE_INLINE
from csp.middleware import CSPMiddleware, PolicyParts
from django.http import HttpRequest, HttpResponseBase

#: Paths whose third-party templates carry inline styles.
RELAXED_STYLE_PREFIXES = ("/admin/", "/api/")


class SwitchboardCSPMiddleware(CSPMiddleware):
    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if request.path_info.startswith(RELAXED_STYLE_PREFIXES):
            parts.update = {**(parts.update or {}), "style-src": [UNSAFE_INLINE]}
        return parts
