"""API Gateway TOKEN authorizer of the operators' API: who is calling, in which role.

Allows the whole API to a verified credential (API Gateway caches the answer per token
for the TTL the template sets, so it must not depend on the route) and hands the caller
to the handlers as context; each handler and the data layer then scope every object to
it. `usageIdentifierKey` puts the call on the credential's own usage plan key, so rate
limits apply per credential. Anything that does not verify is 401, with no detail: the
reason is logged, never told to the caller.
"""

from aws_lambda_powertools.utilities.data_classes import event_source
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerResponse,
    APIGatewayAuthorizerTokenEvent,
)

from meshline.clock import utc_now
from meshline.domain.access import Unauthenticated
from meshline.flows.access import authenticate
from meshline.observability import logger, metrics
from meshline.settings import authorizer_settings


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@event_source(data_class=APIGatewayAuthorizerTokenEvent)
def lambda_handler(event: APIGatewayAuthorizerTokenEvent, context: object) -> dict:
    try:
        credential = authenticate(authorizer_settings(), event.authorization_token, utc_now())
    except Unauthenticated as refusal:
        logger.info("credential refused", extra={"reason": str(refusal)})
        # API Gateway turns exactly this message into 401 Unauthorized.
        raise Exception("Unauthorized") from None  # noqa: TRY002
    arn = event.parsed_arn
    caller = credential.caller
    logger.append_keys(credential_id=caller.credential_id, role=str(caller.role))
    answer = APIGatewayAuthorizerResponse(
        principal_id=caller.party,
        region=arn.region,
        aws_account_id=arn.aws_account_id,
        api_id=arn.api_id,
        stage=arn.stage,
        context=caller.to_context(),
        usage_identifier_key=credential.usage_key,
    )
    answer.allow_all_routes()
    return answer.asdict()
