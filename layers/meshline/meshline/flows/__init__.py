"""Meshline's flows, named as in DESIGN.md: each joins the pure domain to the data-access layer.

Handlers under functions/ only translate their event into one of these calls.
"""
