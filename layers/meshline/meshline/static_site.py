"""Files of a static site, answered with the headers a browser needs to keep them safe.

Used by the operators' console (functions/serve_console): a folder of HTML, CSS and ES
modules packaged with the function, served on the operators' API's own origin.

- Only the files found in the folder when it is first read can be answered, by bare
  name (`app.js`): no path is ever joined from a request, so nothing outside the folder
  can be reached, and an unknown name is a plain 404.
- Every answer carries a strict Content-Security-Policy: everything from this origin
  only, no inline script or style, no framing, no plugins, forms posting back here only.
  The console's pages are written to need nothing more (no CDN, no inline handlers).
- `Cache-Control: no-cache` with a strong ETag: a browser asks again each time and gets
  304 with no body when the file did not change, so a deployment is seen at once and an
  unchanged file costs only a tiny answer.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
SERVABLE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*\.(html|js|css|svg)$")

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cache-Control": "no-cache",
}


@dataclass(frozen=True)
class Asset:
    name: str
    content_type: str
    text: str
    etag: str


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: str


class StaticSite:
    def __init__(self, folder: Path):
        self.folder = folder
        self._assets: dict[str, Asset] | None = None

    @property
    def assets(self) -> dict[str, Asset]:
        """Read once per process (a Lambda container keeps them across invocations)."""
        if self._assets is None:
            found = {}
            for path in sorted(self.folder.iterdir()):
                if path.is_file() and SERVABLE_NAME.match(path.name):
                    text = path.read_text(encoding="utf-8")
                    digest = hashlib.sha256(text.encode()).hexdigest()[:32]
                    found[path.name] = Asset(path.name, CONTENT_TYPES[path.suffix], text, f'"{digest}"')
            self._assets = found
        return self._assets

    def answer(self, name: str, if_none_match: str | None = None) -> Answer:
        asset = self.assets.get(name)
        if asset is None:
            return Answer(404, {**SECURITY_HEADERS, "Content-Type": "text/plain; charset=utf-8"},
                          f"no file {name!r} in the console")
        headers = {**SECURITY_HEADERS, "Content-Type": asset.content_type, "ETag": asset.etag}
        offered = {tag.strip().removeprefix("W/") for tag in (if_none_match or "").split(",")}
        if asset.etag in offered:
            return Answer(304, headers, "")
        return Answer(200, headers, asset.text)
