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


# Exports the stack tests' fixture replayed after each test: [replayed, reproduced exactly],
# summed over pytest-xdist's workers when the suite runs in parallel (dev.py test).
REPLAY_TOTALS = [0, 0]


def pytest_sessionfinish(session):
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: hand the counts to the controller
        workeroutput["replay_totals"] = list(REPLAY_TOTALS)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    replayed, reproduced = getattr(node, "workeroutput", {}).get("replay_totals", (0, 0))
    REPLAY_TOTALS[0] += replayed
    REPLAY_TOTALS[1] += reproduced


def pytest_terminal_summary(terminalreporter):
    replayed, reproduced = REPLAY_TOTALS
    if replayed and getattr(terminalreporter.config, "workeroutput", None) is None:
        terminalreporter.write_line(f"replay: {reproduced} of {replayed} exports produced by the stack tests reproduced exactly")
