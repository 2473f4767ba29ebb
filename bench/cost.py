"""Cost per million orders: what AWS would bill for Meshline's work on an order, by service,
on three paths, beside the pipeline a user would otherwise build: the same one with
Powertools' idempotency utility deduplicating every handler's events, computed in the same run.

Everything is counted through the local stack, as bench/aws_calls.py counts it:
- every call a handler makes, with what it sent and what came back: DynamoDB units from the
  item sizes (write: 1 KB, read: 4 KB, halved when eventually consistent, doubled in a
  transaction; one more write per index entry an item carries), SQS and EventBridge per 64 KB
  chunk, S3 PUTs, KMS requests;
- every invocation: one Lambda request and its billed duration (the in-process handler time,
  rounded up to the millisecond) times the template's MemorySize, at the price of the
  template's architecture; one API Gateway REST request for each API invocation; Lambda's
  poller receiving and deleting each SQS batch (DynamoDB stream reads by Lambda are free);
- every escalation: its state transitions and its service integrations, from its history;
- the bytes the functions logged (CloudWatch Logs ingestion).

Durations on moto are a proxy: the handler time includes moto's answers on localhost, not
DynamoDB's over the network, and X-Ray is off locally.

Paths, per order, steady state (the first order, which fills per-process caches, left out):
- happy: webhook -> decide -> publish;
- reroute: happy, then a rejection and its re-route;
- escalation: reroute, then a second rejection (held, escalated) and a signed override.

Baseline: Powertools' idempotency writes an in-progress record and then its result, 2 writes
(records under 1 KB: 1 WRU each) per event per handler, and waits for both; each write is
charged here at the mean PutItem latency measured in this run. Every handler on these paths
would use it: each takes at-least-once deliveries (API retries, SQS, the stream).
"""

from __future__ import annotations

import base64
import json
import math
import statistics
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

from bench.aws_calls import BURST, Call, Step, burst, run, steady_state

PRICES_CHECKED = "2026-11-26"


@dataclass(frozen=True)
class Price:
    usd: float
    per: float
    label: str  # of the unit, in the tables
    unit: str
    source: str


# Public on-demand prices, us-east-1, as published on the day above (free tiers left out).
PRICES = {
    "lambda_requests": Price(0.20, 1e6, "requests", "Lambda requests", "aws.amazon.com/lambda/pricing"),
    "lambda_gbs_arm64": Price(0.0000133334, 1, "GB-s arm64", "Lambda GB-s, arm64 (first 7.5 billion GB-s a month)", "aws.amazon.com/lambda/pricing"),
    "lambda_gbs_x86_64": Price(0.0000166667, 1, "GB-s x86_64", "Lambda GB-s, x86_64 (first 6 billion GB-s a month)", "aws.amazon.com/lambda/pricing"),
    "apigw_rest": Price(3.50, 1e6, "requests", "API Gateway REST requests (first 333 million a month)", "aws.amazon.com/api-gateway/pricing"),
    # Halved on 2024-11-01 (from $1.25 and $0.25): Standard table class, on-demand.
    "dynamodb_wru": Price(0.625, 1e6, "WRU", "DynamoDB on-demand write request units", "aws.amazon.com/dynamodb/pricing/on-demand"),
    "dynamodb_rru": Price(0.125, 1e6, "RRU", "DynamoDB on-demand read request units", "aws.amazon.com/dynamodb/pricing/on-demand"),
    "sqs_fifo": Price(0.50, 1e6, "FIFO", "SQS FIFO requests, per 64 KB chunk", "aws.amazon.com/sqs/pricing"),
    "sqs_standard": Price(0.40, 1e6, "standard", "SQS standard requests, per 64 KB chunk", "aws.amazon.com/sqs/pricing"),
    "s3_put": Price(0.005, 1e3, "PUT", "S3 Standard PUT, COPY, POST, LIST requests", "aws.amazon.com/s3/pricing"),
    "s3_get": Price(0.0004, 1e3, "GET", "S3 Standard GET and other requests", "aws.amazon.com/s3/pricing"),
    "eventbridge": Price(1.00, 1e6, "events", "EventBridge custom events, per 64 KB chunk", "aws.amazon.com/eventbridge/pricing"),
    "sfn_transitions": Price(0.025, 1e3, "transitions", "Step Functions standard state transitions", "aws.amazon.com/step-functions/pricing"),
    # ECC_NIST_P256 operator keys: "asymmetric requests except RSA 2048". The least certain
    # price here: one 2026 breakdown of AWS's page says 5x symmetric, another $0.03.
    "kms_asymmetric": Price(0.15, 1e4, "asymmetric", "KMS requests with asymmetric keys other than RSA 2048", "aws.amazon.com/kms/pricing"),
    "kms_symmetric": Price(0.03, 1e4, "symmetric", "KMS symmetric requests (SecureString decryption)", "aws.amazon.com/kms/pricing"),
    # Standard parameters at standard throughput cost nothing; Secrets Manager ($0.05 per
    # 10,000 calls) is not used: webhook secrets are SSM SecureStrings.
    "ssm_requests": Price(0.0, 1, "requests", "SSM Parameter Store standard parameters, standard throughput", "aws.amazon.com/systems-manager/pricing"),
    "logs_gb": Price(0.50, 1, "GB", "CloudWatch Logs ingestion, per GB (standard class)", "aws.amazon.com/cloudwatch/pricing"),
    # Feature flags: a function reads them once per cold start and max age, not per order, so
    # they show up only when a refresh falls inside a measured order. Locally the read is
    # moto's GetHostedConfigurationVersion, standing in for AppConfigData's GetLatestConfiguration.
    "appconfig_requests": Price(0.20, 1e6, "requests", "AppConfig configuration requests via API calls", "aws.amazon.com/systems-manager/pricing"),
    "appconfig_received": Price(0.0008, 1, "received", "AppConfig configurations received", "aws.amazon.com/systems-manager/pricing"),
}
SERVICES = {  # price key prefix -> the bill's service
    "lambda": "Lambda", "apigw": "API Gateway", "dynamodb": "DynamoDB", "sqs": "SQS", "s3": "S3",
    "eventbridge": "EventBridge", "sfn": "Step Functions", "kms": "KMS", "ssm": "SSM", "logs": "CloudWatch Logs",
    "appconfig": "AppConfig",
}
CALL_SERVICES = {"dynamodb": "DynamoDB", "sqs": "SQS", "s3": "S3", "events": "EventBridge", "kms": "KMS", "ssm": "SSM",
                 "stepfunctions": "Step Functions", "appconfig": "AppConfig", "appconfigdata": "AppConfig"}
CHUNK = 64 * 1024
PATHS = {"happy": ("happy",), "reroute": ("happy", "reroute"), "escalation": ("happy", "reroute", "escalate", "override")}


# ------------------------------------------------------------------ sizes


def attribute_bytes(value: dict) -> int:
    """DynamoDB's size of one attribute value (docs: 'Item sizes and formats')."""
    (kind, inner), = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "B":
        return len(inner) if isinstance(inner, bytes) else len(base64.b64decode(inner))
    if kind == "N":
        digits = Decimal(inner).normalize().as_tuple().digits
        return math.ceil(len(digits) / 2) + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(attribute_bytes({kind[0]: element}) for element in inner)
    if kind == "L":
        return 3 + sum(1 + attribute_bytes(element) for element in inner)
    return 3 + sum(1 + len(name.encode()) + attribute_bytes(element) for name, element in inner.items())  # M


def item_bytes(item: dict) -> int:
    return sum(len(name.encode()) + attribute_bytes(value) for name, value in item.items())


def _units(size: int, unit: int) -> int:
    return max(1, math.ceil(size / unit))


@dataclass
class Index:
    keys: tuple[str, ...]  # the index's own key attributes
    projected: tuple[str, ...] | None  # None: ALL


def template() -> tuple[dict[str, tuple[int, str]], dict[str, list[Index]]]:
    """(MemorySize, architecture) per function and global secondary indexes per table-name
    suffix, from the translated template (SAM's Globals applied)."""
    from meshline_local.provision import translate

    functions, indexes = {}, {}
    for name, resource in translate()["Resources"].items():
        properties = resource["Properties"]
        if resource["Type"] == "AWS::Lambda::Function":
            functions[name] = (int(properties.get("MemorySize", 128)), properties.get("Architectures", ["x86_64"])[0])
        elif resource["Type"] == "AWS::DynamoDB::Table":
            table_keys = tuple(key["AttributeName"] for key in properties["KeySchema"])
            suffix = properties["TableName"]["Fn::Sub"].rsplit("}", 1)[-1]
            indexes[suffix] = [
                Index(tuple(key["AttributeName"] for key in index["KeySchema"]),
                      None if index["Projection"]["ProjectionType"] == "ALL"
                      else table_keys + tuple(key["AttributeName"] for key in index["KeySchema"])
                      + tuple(index["Projection"].get("NonKeyAttributes", [])))
                for index in properties.get("GlobalSecondaryIndexes", [])
            ]
    return functions, indexes


class Meter:
    """Billing units of one call, invocation or escalation, by price key."""

    def __init__(self, memory: dict[str, tuple[int, str]], indexes: dict[str, list[Index]]):
        self.memory, self.indexes = memory, indexes

    def _put(self, table: str, item: dict, factor: int = 1) -> int:
        """WRU of putting `item`: the item (x2 in a transaction), plus each index entry it makes."""
        units = factor * _units(item_bytes(item), 1024)
        for index in next((v for k, v in self.indexes.items() if table.endswith(k)), []):
            if all(key in item for key in index.keys):
                projected = item if index.projected is None else {k: v for k, v in item.items() if k in index.projected}
                units += _units(item_bytes(projected), 1024)
        return units

    def _write(self, table: str, request: dict, factor: int = 1) -> int:
        if "Item" in request:
            return self._put(table, request["Item"], factor)
        # Update, Delete, ConditionCheck: the item's size is not in the request; the items
        # Meshline updates (dispatch counters) and checks (absent next keys) are under 1 KB.
        return factor * _units(item_bytes(request.get("Key", {})) + sum(
            attribute_bytes(v) for v in request.get("ExpressionAttributeValues", {}).values()), 1024)

    def dynamodb(self, operation: str, params: dict, response: dict) -> Counter[str]:
        units: Counter[str] = Counter()
        if operation in ("PutItem", "UpdateItem", "DeleteItem"):
            units["dynamodb_wru"] += self._write(params["TableName"], params)
        elif operation == "BatchWriteItem":
            for table, requests in params["RequestItems"].items():
                for request in requests:
                    units["dynamodb_wru"] += self._write(table, next(iter(request.values())))
        elif operation == "TransactWriteItems":
            for entry in params["TransactItems"]:
                request = next(iter(entry.values()))
                units["dynamodb_wru"] += self._write(request["TableName"], request, factor=2)
        elif operation == "GetItem":
            factor = 1 if params.get("ConsistentRead") else 0.5
            units["dynamodb_rru"] += factor * _units(item_bytes(response.get("Item", {})), 4096)
        elif operation == "BatchGetItem":
            for table, request in params["RequestItems"].items():
                factor = 1 if request.get("ConsistentRead") else 0.5
                found = response.get("Responses", {}).get(table, [])
                missing = len(request["Keys"]) - len(found)
                units["dynamodb_rru"] += factor * (sum(_units(item_bytes(i), 4096) for i in found) + missing)
        elif operation in ("Query", "Scan"):
            factor = 1 if params.get("ConsistentRead") else 0.5
            units["dynamodb_rru"] += factor * _units(sum(item_bytes(i) for i in response.get("Items", [])), 4096)
        elif operation == "TransactGetItems":
            units["dynamodb_rru"] += sum(2 * _units(item_bytes(r.get("Item", {})), 4096) for r in response.get("Responses", []))
        else:
            units[f"unpriced dynamodb:{operation}"] += 1
        return units

    def call(self, call: Call) -> Counter[str]:
        service, operation = call.operation.split(":")
        params = call.params
        if service == "dynamodb":
            return self.dynamodb(operation, params, call.response)
        if service == "sqs" and operation in ("SendMessage", "SendMessageBatch"):
            messages = params.get("Entries", [params])
            size = sum(len(m["MessageBody"].encode()) + sum(len(k) + len(str(a)) for k, a in m.get("MessageAttributes", {}).items())
                       for m in messages)
            return Counter({"sqs_fifo" if params["QueueUrl"].endswith(".fifo") else "sqs_standard": math.ceil(size / CHUNK) or 1})
        if service == "sqs":
            return Counter({"sqs_standard": 1})
        if service == "s3":
            return Counter({"s3_put" if operation.startswith(("Put", "Copy", "List", "Create")) else "s3_get": 1})
        if service == "events" and operation == "PutEvents":
            return Counter({"eventbridge": sum(_event_chunks(entry) for entry in params["Entries"])})
        if service == "kms":
            return Counter({"kms_asymmetric" if operation in ("Sign", "Verify", "GetPublicKey") else "kms_symmetric": 1})
        if service == "ssm":
            return Counter({"ssm_requests": 1, "kms_symmetric": 1 if params.get("WithDecryption") else 0})
        if service in ("appconfig", "appconfigdata"):
            received = bool(call.response.get("Content") or call.response.get("Configuration"))
            return Counter({"appconfig_requests": 1, "appconfig_received": int(received)})
        if service == "stepfunctions":
            return Counter()  # API calls are not billed; the transitions are (see `execution`)
        return Counter({f"unpriced {call.operation}": 1})

    def invocation(self, function: str, seconds: float, event: dict, extra_seconds: float = 0.0) -> Counter[str]:
        memory, architecture = self.memory[function]
        billed_ms = math.ceil((seconds + extra_seconds) * 1000)
        units = Counter({"lambda_requests": 1, f"lambda_gbs_{architecture}": billed_ms / 1000 * memory / 1024})
        if "httpMethod" in event:
            units["apigw_rest"] += 1
        records = [r for r in event.get("Records", []) if r.get("eventSource") == "aws:sqs"]
        if records:  # Lambda's poller: one receive for the batch, one batch delete
            queue = "sqs_fifo" if records[0]["eventSourceARN"].endswith(".fifo") else "sqs_standard"
            units[queue] += math.ceil(sum(len(r["body"].encode()) for r in records) / CHUNK) + 1
        return units

    def execution(self, history: list[dict]) -> Counter[str]:
        units = Counter({"sfn_transitions": sum(e["type"].endswith("StateEntered") for e in history)})
        for event in history:
            scheduled = event.get("taskScheduledEventDetails")
            if scheduled and scheduled["resourceType"] == "events":
                units["eventbridge"] += sum(_event_chunks(e) for e in json.loads(scheduled["parameters"])["Entries"])
            elif scheduled and scheduled["resourceType"] == "sqs":
                units["sqs_standard"] += math.ceil(len(scheduled["parameters"].encode()) / CHUNK)
        return units


def _event_chunks(entry: dict) -> int:
    """EventBridge's entry size: 14 bytes for the time, plus source, detail type, detail and resources."""
    detail = entry.get("Detail", "")
    detail = detail if isinstance(detail, str) else json.dumps(detail)
    size = 14 + sum(len(str(entry.get(k, "")).encode()) for k in ("Source", "DetailType")) + len(detail.encode())
    return math.ceil((size + sum(len(r.encode()) for r in entry.get("Resources", []))) / CHUNK)


IDEMPOTENT_WRITES = 2  # Powertools: put the in-progress record, then update it with the result


def order_units(steps: list[Step], meter: Meter, write_seconds: float) -> tuple[Counter[str], Counter[str], Counter[str]]:
    """(units, billed calls by service, the idempotency baseline's units) of one order's steps."""
    units, calls, baseline = Counter(), Counter(), Counter()
    for step in steps:
        for call in step.kept:
            metered = meter.call(call)
            units.update(metered)
            baseline.update(metered)
            calls[CALL_SERVICES[call.operation.split(":")[0]]] += 1
        for function, seconds, event in step.invocations:
            records = len(event.get("Records", [])) or 1
            units.update(meter.invocation(function, seconds, event))
            baseline.update(meter.invocation(function, seconds, event, IDEMPOTENT_WRITES * records * write_seconds))
            baseline["dynamodb_wru"] += IDEMPOTENT_WRITES * records
            calls["Lambda"] += 1
            calls["API Gateway"] += "httpMethod" in event
            calls["SQS"] += 2 * any(r.get("eventSource") == "aws:sqs" for r in event.get("Records", []))
        for history in step.executions:
            for event in history:  # the state machine's own calls
                if kind := event.get("taskScheduledEventDetails", {}).get("resourceType"):
                    calls[CALL_SERVICES[kind]] += 1
            metered = meter.execution(history)
            units.update(metered)
            baseline.update(metered)
        logged = Counter({"logs_gb": step.logged_bytes / 2**30})
        units.update(logged)
        baseline.update(logged)
    return units, calls, baseline


def _service(key: str) -> str:
    return next((service for prefix, service in SERVICES.items() if key.startswith(prefix)), key)


def dollars(units: Counter[str]) -> Counter[str]:
    """$ by service for `units`, per million orders."""
    by_service: Counter[str] = Counter()
    for key, amount in units.items():
        price = PRICES.get(key)
        if price is None:
            raise KeyError(f"no price for {key!r}: add it to PRICES with its source")
        by_service[_service(key)] += amount * price.usd / price.per * 1e6
    return by_service


def measure_burst(orders: int) -> tuple[Counter[str], Counter[str], Counter[str]]:
    """The happy path under load (bench/aws_calls.py `burst`), per order: (units, calls by
    service, baseline units)."""
    step, _ = burst(orders, keep=True)
    units, calls, baseline = order_units([step], Meter(*template()), _mean_put_seconds([step]))
    return tuple(Counter({key: value / orders for key, value in counted.items()}) for counted in (units, calls, baseline))


def _mean_put_seconds(steps: list[Step]) -> float:
    return statistics.mean(c.seconds for s in steps for c in s.kept if c.operation == "dynamodb:PutItem")


def measure(orders: int) -> tuple[dict[str, list[tuple[Counter[str], Counter[str], Counter[str]]]], float]:
    """Per path, per steady-state order: (units, calls by service, baseline units); and the
    mean PutItem latency the baseline's writes are charged at."""
    paths = run(orders, keep=True)
    meter = Meter(*template())  # after the run, which sets the region the translation needs
    write_seconds = _mean_put_seconds([s for steps in paths.values() for s in steps])
    orders = [dict(zip(paths, steps)) for steps in zip(*(steady_state(steps) for steps in paths.values()))]
    return {
        path: [order_units([order[step] for step in steps], meter, write_seconds) for order in orders]
        for path, steps in PATHS.items()
    }, write_seconds


def _mean(counters: list[Counter]) -> Counter:
    total: Counter = Counter()
    for counter in counters:
        total.update(counter)
    return Counter({key: value / len(counters) for key, value in total.items()})


def _describe(service: str, units: Counter[str]) -> str:
    parts = []
    for key, amount in sorted(units.items()):
        if _service(key) == service and amount:
            if key == "logs_gb":
                parts.append(f"{amount * 2**20:.1f} KB")
            else:
                parts.append(f"{amount:.4g} {PRICES[key].label}")
    return ", ".join(parts)


def main(quick: bool = False) -> int:
    orders = 3 if quick else 10
    print(f"cost per million orders: {orders} orders through the local stack, steady state; us-east-1 on-demand prices of {PRICES_CHECKED};\n"
          f"baseline = the same pipeline with Powertools idempotency on every handler ({IDEMPOTENT_WRITES} writes per event), same run\n")
    results, write_seconds = measure(orders)
    print(f"(an idempotency write is charged at the measured mean PutItem latency on moto: {write_seconds * 1000:.1f} ms)\n")
    size = 20 if quick else BURST
    measured = {path: (_mean([u for u, _, _ in per_order]), _mean([c for _, c, _ in per_order]),
                       _mean([b for _, _, b in per_order]), f"{path} path") for path, per_order in results.items()}
    measured["burst"] = (*measure_burst(size), f"burst: the happy path under load ({size} webhooks at once, decided and published in batches)")
    for units, calls, baseline, title in measured.values():
        ours, theirs = dollars(units), dollars(baseline)
        print(f"{title}: {sum(calls.values()):.1f} billed requests per order")
        print(f"    {'service':<16} {'calls':>5}  {'units per order':<44} {'$/M orders':>10} {'idempotency':>11} {'x idem':>6}")
        for service in sorted(ours, key=ours.get, reverse=True):
            ratio = ours[service] / theirs[service] if theirs[service] else 1.0
            print(f"    {service:<16} {calls[service]:>5.1f}  {_describe(service, units):<44} {ours[service]:>10.2f} "
                  f"{theirs[service]:>11.2f} {ratio:>6.2f}")
        total, total_baseline = sum(ours.values()), sum(theirs.values())
        print(f"    {'total':<16} {sum(calls.values()):>5.1f}  {'':<44} {total:>10.2f} {total_baseline:>11.2f} "
              f"{total / total_baseline:>6.2f}\n")
    print(f"prices used (us-east-1, on-demand, free tiers left out; as published on {PRICES_CHECKED}):")
    for price in PRICES.values():
        per = f"{price.per:,.0f} " if price.per != 1 else ""
        print(f"    ${price.usd:.10f}".rstrip("0").rstrip(".") + f" per {per}{price.unit}  ({price.source})")
    return 0
