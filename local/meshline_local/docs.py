"""Swagger UI for the operators' API, on the local stack only.

Served by the local runtime's HTTP server, never by a function: nothing here is in
template.yaml, so no deployed stage can expose it. The page and its assets come from the
`swagger-ui-bundle` package (no CDN), and the document is the checked-in OpenAPI file.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from meshline_local.provision import ROOT

OPENAPI = ROOT / "schemas" / "openapi" / "operators-api.openapi.json"
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Meshline operators' API (local)</title>
<link rel="stylesheet" href="{base}/docs/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="{base}/docs/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({{url: "{base}/openapi.json", dom_id: "#swagger-ui"}});</script>
</body></html>
"""
ASSETS = {"swagger-ui.css", "swagger-ui-bundle.js"}

Answer = tuple[int, dict[str, str], bytes]


def serve(method: str, path: str, stage: str) -> Answer | None:
    """The answer for the docs' own paths (`/<stage>/docs`, its assets, `/<stage>/openapi.json`); None otherwise."""
    if method.upper() != "GET":
        return None
    base = f"/{stage}"
    bare = path.split("?", 1)[0]
    if bare in (f"{base}/docs", f"{base}/docs/"):
        return 200, {"Content-Type": "text/html; charset=utf-8"}, PAGE.format(base=base).encode()
    if bare == f"{base}/openapi.json":
        return 200, {"Content-Type": "application/json"}, OPENAPI.read_bytes()
    name = bare.removeprefix(f"{base}/docs/")
    if name in ASSETS:
        asset = _assets() / name
        return 200, {"Content-Type": mimetypes.guess_type(name)[0] or "application/octet-stream"}, asset.read_bytes()
    return None


def _assets() -> Path:
    from swagger_ui_bundle import swagger_ui_path

    return Path(str(swagger_ui_path))
