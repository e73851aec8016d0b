"""The API's description (``/openapi.json``, see ``api.openapi``) and its interactive
documentation at ``/docs``, served without any CDN.

FastAPI's default ``/docs`` page loads Swagger UI from a CDN, which a closed government network
cannot reach; the same Swagger UI files ship inside the ``fastapi-offline`` package and are
served from ``/docs-static`` instead.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from govchain.api import openapi
from govchain.api.auth import PUBLIC, requires

STATIC = Path(fastapi_offline.__file__).parent / "static"
"""Directory holding ``swagger-ui-bundle.js``, ``swagger-ui.css`` and ``favicon.png``."""


def install(app: FastAPI) -> None:
    """Describe the shared answers in ``/openapi.json``; serve ``/docs`` (Swagger UI) and its
    assets from the local package."""
    openapi.install(app)
    app.mount("/docs-static", StaticFiles(directory=STATIC), name="docs-static")

    @app.get("/docs", include_in_schema=False, dependencies=[requires(PUBLIC)])
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} — docs",
            swagger_js_url="/docs-static/swagger-ui-bundle.js",
            swagger_css_url="/docs-static/swagger-ui.css",
            swagger_favicon_url="/docs-static/favicon.png",
        )
