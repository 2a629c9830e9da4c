"""Static files (the dashboard's CSS and scripts, the admin's) served by Django itself.

Daphne serves no files, and an operator should not need a web server in
front of it for a few small stylesheets. The project's `static/` folder is
read directly (so it works without STATICFILES_DIRS), everything else
through the staticfiles finders (the admin's files). Responses carry
Last-Modified and `Cache-Control: no-cache`, so browsers revalidate with a
cheap 304 instead of keeping an old script after an upgrade.
"""

from __future__ import annotations

import posixpath

from django.conf import settings
from django.contrib.staticfiles.views import serve as serve_found
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_safe
from django.views.static import serve as serve_file


@require_safe
def serve(request: HttpRequest, path: str) -> HttpResponse:
    clean = posixpath.normpath(path).lstrip("/")
    if clean.startswith("..") or "\\" in clean:
        raise Http404(path)
    own = (settings.BASE_DIR / "static").resolve()
    candidate = (own / clean).resolve()
    if candidate.is_relative_to(own) and candidate.is_file():
        response = serve_file(request, clean, document_root=str(own))
    else:
        response = serve_found(request, path, insecure=True)
    response["Cache-Control"] = "no-cache"
    return response
