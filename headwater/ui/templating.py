"""Rendering the UI's pages: one Jinja2 environment over ``headwater/ui/templates``.

Every page response carries a strict Content-Security-Policy: scripts only
from this server (no inline script, no ``eval``), no framing by other sites,
no form posts elsewhere. Pages hand their parameters to the scripts through
``data-`` attributes, which Jinja2 escapes.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from headwater import __version__

#: ECharts sets inline styles on the elements it draws, hence style-src 'unsafe-inline' (styles only).
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                           "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
                           "form-action 'self'; base-uri 'none'; object-src 'none'")
SECURITY_HEADERS = {"content-security-policy": CONTENT_SECURITY_POLICY, "x-content-type-options": "nosniff",
                    "referrer-policy": "same-origin", "x-frame-options": "DENY", "cache-control": "no-store"}

#: Links of the navigation bar (URL map of the UI), in order.
NAV = [("/", "Overview"), ("/ui/dashboards", "Dashboards"), ("/ui/topics", "Topics"), ("/ui/flow", "Flow"),
       ("/ui/sql", "SQL"), ("/ui/connectors", "Connectors")]

_environment = Environment(loader=PackageLoader("headwater.ui", "templates"),
                           autoescape=select_autoescape(default=True, default_for_string=True),
                           trim_blocks=True, lstrip_blocks=True)


def environment() -> Environment:
    """The shared environment (page modules may add filters or globals at import time)."""
    return _environment


def render(request: Request, template: str, *, title: str, section: str, status_code: int = 200,
           **context: Any) -> HTMLResponse:
    """A page: ``template`` (extending base.html) with the nav marking ``section`` (a NAV path)."""
    page = _environment.get_template(template)
    # Whether keys are configured (not which): the page asks for one before its first call instead of
    # collecting a 401 first.
    state = getattr(request.app.state, "headwater", None)
    needs_key = bool(state is not None and state.config.key_roles())
    html = page.render(request=request, title=title, section=section, nav=NAV, version=__version__,
                       needs_key=needs_key, **context)
    return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)
