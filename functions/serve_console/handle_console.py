"""API Gateway -> the operators' console: its page and static files (no credential needed).

    GET /console           the console's page (index.html)
    GET /console/{asset}   one of its files (app.js, console.css, ...), by bare name

The files live in ./console, packaged with this function; they hold no data. Everything
the console shows it reads from the operators' API with the operator's own credential.
Headers (CSP, ETag, no-cache): meshline.static_site.
"""

from pathlib import Path

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths

from meshline.observability import logger
from meshline.static_site import StaticSite

SITE = StaticSite(Path(__file__).resolve().parent / "console")
PAGE = "index.html"

app = APIGatewayRestResolver()


def _file(name: str) -> Response:
    answer = SITE.answer(name, app.current_event.headers.get("If-None-Match"))
    return Response(status_code=answer.status, headers=answer.headers, body=answer.body)


@app.get("/console")
def console_page() -> Response:
    return _file(PAGE)


@app.get("/console/<asset>")
def console_asset(asset: str) -> Response:
    return _file(asset)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
def lambda_handler(event: dict, context: object) -> dict:
    return app.resolve(event, context)
