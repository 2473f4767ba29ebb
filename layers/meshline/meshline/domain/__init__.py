"""The pure domain: orders, tenants, routing, SLA, exports and their audit chain.

Nothing here imports boto3 or talks to AWS; every function is deterministic given its inputs
(the clock included), so it is tested in milliseconds and replayable.
"""
