"""Every test runs with fake credentials and no way to reach real AWS."""

import os

import pytest

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "Meshline",
        "POWERTOOLS_SERVICE_NAME": "meshline-tests",
    }
)
os.environ.pop("AWS_PROFILE", None)
os.environ.pop("AWS_ENDPOINT_URL", None)


@pytest.fixture(autouse=True)
def _fresh_process_state():
    """Clients, settings and parameter caches are per process in Lambda; per test here."""
    from aws_lambda_powertools.utilities import parameters

    from meshline import settings
    from meshline.dal import aws, flags, publication

    yield
    aws.reset()
    flags.reset()
    settings.reset()
    parameters.clear_caches()
    publication._queue_url.cache_clear()
