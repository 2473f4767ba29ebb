"""Meshline's shared library: the pure domain, the platform adapters and the data-access layer.

Shipped to Lambda as a layer (layers/meshline) and imported as-is by the tests.
"""
