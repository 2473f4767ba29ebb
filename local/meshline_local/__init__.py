"""Meshline on a laptop: the local stack (moto standing in for AWS, wired by template.yaml),
the demo, and the developer tools that generate checked-in artifacts."""
