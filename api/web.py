"""The web query builder: the page at ``/`` and its assets under ``/static``.

The page is static; everything it shows comes from the URL API's metadata and answers, so
it passes through the same disclosure control as every other shape (K2). Assets are served
from this package (no CDN), with a Content-Security-Policy that allows only same-origin
scripts and styles, so nothing the API returns can run as code in the page.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request
from starlette.responses import FileResponse, Response

STATIC_DIR = Path(__file__).resolve().parent / "static"

# Same-origin only: the page draws its chart as inline SVG built with DOM calls and never
# evaluates text from the API, so no 'unsafe-inline' or 'unsafe-eval' is needed.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # The page is small and its state lives in its own query string; revalidate so a new
    # deployment's page and assets are picked up together.
    "Cache-Control": "no-cache",
}


class _StaticWithHeaders(StaticFiles):
    async def get_response(self, path: str, scope) -> Response:  # type: ignore[override]
        response = await super().get_response(path, scope)
        for key, value in PAGE_HEADERS.items():
            response.headers.setdefault(key, value)
        return response


def index_response() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


def mount_web(app: FastAPI) -> None:
    """Serve the query builder at ``/`` (any query string: it is the page's saved state)."""

    async def web_page(request: Request) -> FileResponse:
        return index_response()

    app.add_api_route("/", web_page, methods=["GET", "HEAD"], include_in_schema=False, name="web_page")
    app.mount("/static", _StaticWithHeaders(directory=STATIC_DIR), name="static")
