"""Logger, Tracer and Metrics, created once and imported everywhere.

Service name and metrics namespace come from the template's environment
(POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE).
"""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger()
tracer = Tracer()
metrics = Metrics()

__all__ = ["MetricUnit", "logger", "metrics", "tracer"]
