"""/docs served entirely from the package: Swagger UI's assets (vendored by fastapi-offline)
and our own start-up script, so an offline machine or a strict Content-Security-Policy works."""

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_URL = "/docs-assets"
OWN_ASSETS = Path(__file__).parent / "static"
# fastapi-offline ships Swagger UI's bundle and stylesheet inside its wheel.
SWAGGER_ASSETS = Path(str(files("fastapi_offline") / "static"))
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title} - API</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css">
<link rel="icon" href="{assets}/favicon.png">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi_url}"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{assets}/swagger-init.js"></script>
</body>
</html>
"""


class _AssetFiles(StaticFiles):
    """Our script first, then Swagger UI's files."""

    def __init__(self) -> None:
        super().__init__(directory=SWAGGER_ASSETS)
        self.all_directories = [OWN_ASSETS, SWAGGER_ASSETS]


def install_docs(app: FastAPI, *, docs_url: str = "/docs") -> None:
    """Serve Swagger UI at ``docs_url`` with every asset from this package."""
    app.mount(ASSETS_URL, _AssetFiles(), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    page = PAGE.format(title=app.title, assets=ASSETS_URL, openapi_url=openapi_url)

    @app.get(docs_url, include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(page, headers={"Content-Security-Policy": CSP})
