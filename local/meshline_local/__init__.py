"""Meshline on a laptop: the local stack (moto standing in for AWS, wired by template.yaml),
the demo, and the developer tools that generate checked-in artifacts."""

import os

# This one process hosts every function, and imports the shared library (meshline.flows.reports
# through the operators' commands, for one) before any function's environment is applied.
# Powertools' Metrics reads its namespace once, when meshline.observability creates it: without
# this, every handler that flushes a metric fails ("Must contain a metric namespace"). It is the
# value template.yaml's Globals give every function (tests/test_demo.py runs the demo without it).
LAMBDA_GLOBALS = {"POWERTOOLS_METRICS_NAMESPACE": "Meshline"}
for _name, _value in LAMBDA_GLOBALS.items():
    os.environ.setdefault(_name, _value)
