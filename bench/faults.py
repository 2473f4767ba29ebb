"""The faults the fault harness (bench/fault_harness.py) injects inside the local stack, and
the clock it moves. Each injector counts what it actually injected, by kind.

- `AwsErrors`: a share of the functions' AWS calls answered with throttling (HTTP 400
  ThrottlingException; S3: 503 SlowDown) or a server error (HTTP 500 InternalServerError,
  503 ServiceUnavailable; S3: InternalError, ServiceUnavailable), at botocore's
  `before-send`: the client's own retry logic sees them, exactly as it would see AWS's.
- `Interruptions`: Lambda timeouts and process crashes, planned per order. A timeout ends
  the invocation at a chosen AWS call of the handler (before the call is sent, or after
  it succeeded but before the handler sees the answer); the event source then retries it
  (SQS makes the batch visible again, the stream retries the batch, API Gateway answers
  5xx and the shop re-sends). A crash kills the whole process at a step boundary: the
  poller dies with the handler, so received messages stay invisible for their queue's
  visibility timeout and the stream resumes from its last checkpoint, as after a restart.
- `HarnessClock`: Meshline's clock (freezegun, ticking) and SQS's clock in the moto server
  (meshline_local.moto_server, workaround 7), always moved together, so a re-send "four
  hours later" is four hours later for Meshline's receipts and for SQS FIFO's 5-minute
  deduplication window alike.

Both exceptions are BaseExceptions on purpose: neither Lambda's timeout nor a dead process
raises anything the handler could catch (Powertools' batch processors catch Exception per
record and would otherwise turn a timeout into one failed record while the rest of the
batch went on).
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any


class LambdaTimedOut(BaseException):
    """Lambda stopped the invocation at its timeout; nothing after this point ran."""


class ProcessCrashed(BaseException):
    """The process running the function and its event-source poller died here."""

    def __init__(self, boundary: str, function: str):
        super().__init__(f"crashed in {function}: {boundary}")
        self.boundary = boundary
        self.function = function


# ----------------------------------------------------------------------------- AWS errors


class _Raw:
    def __init__(self, body: bytes):
        self.body = body

    def stream(self, **_):
        yield self.body

    def read(self, *_):
        return self.body


THROTTLED = "throttled AWS calls"
SERVER_ERRORS = "AWS 5xx errors"


class AwsErrors:
    """Answers a share of the functions' AWS calls with throttling or a 5xx, before they are sent."""

    def __init__(self, throttle_rate: float, server_error_rate: float, rng: random.Random):
        self.throttle_rate, self.server_error_rate, self.rng = throttle_rate, server_error_rate, rng
        self.enabled = True  # the harness's switch
        self.active = False  # inside an invocation: only the functions' calls are answered with errors
        self.injected: Counter[str] = Counter()

    def before_send(self, request, event_name: str = "", **_):
        if not (self.enabled and self.active):
            return None
        roll = self.rng.random()
        if roll < self.throttle_rate:
            kind = THROTTLED
        elif roll < self.throttle_rate + self.server_error_rate:
            kind = SERVER_ERRORS
        else:
            return None
        from botocore.awsrequest import AWSResponse

        self.injected[kind] += 1
        service = event_name.split(".")[1] if event_name.count(".") >= 2 else ""
        status, code = (400, "ThrottlingException") if kind == THROTTLED else self.rng.choice(
            [(500, "InternalServerError"), (503, "ServiceUnavailable")])
        if service == "s3":  # REST-XML, with S3's own codes
            code = {"ThrottlingException": "SlowDown", "InternalServerError": "InternalError"}.get(code, code)
            status = 503 if code == "SlowDown" else status
            body = (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
                    f"<Message>injected by the fault harness</Message><RequestId>fault</RequestId></Error>").encode()
            headers = {"Content-Type": "application/xml"}
        else:  # the JSON protocols every other service Meshline calls speaks
            body = json.dumps({"__type": code, "message": "injected by the fault harness"}).encode()
            headers = {"x-amzn-ErrorType": code, "Content-Type": "application/x-amz-json-1.0"}
        return AWSResponse(request.url, status, headers, _Raw(body))


# ----------------------------------------------------------------------------- timeouts and crashes


@dataclass(frozen=True)
class Boundary:
    """A point between two steps where a process can die.

    `call`: `service:Operation` after whose success it dies (with `matches` narrowing which
    such call); None: after the handler returned, before the event source's bookkeeping
    (deleting the SQS messages, writing the stream checkpoint, answering the HTTP request)."""

    name: str
    function: str
    call: str | None = None
    matches: Callable[[dict[str, Any]], bool] = lambda params: True


def _queue_named(part: str) -> Callable[[dict[str, Any]], bool]:
    return lambda params: part in str(params.get("QueueUrl", ""))


def _event_of_type(detail_type: str) -> Callable[[dict[str, Any]], bool]:
    return lambda params: any(entry.get("DetailType") == detail_type for entry in params.get("Entries", []))


BOUNDARIES = (
    Boundary("ingest: receipt written, order not yet enqueued", "IngestFunction", "dynamodb:PutItem"),
    Boundary("ingest: order enqueued, webhook not yet answered", "IngestFunction", "sqs:SendMessage"),
    Boundary("decide: export written, rest of the batch not decided", "DecideFunction", "dynamodb:TransactWriteItems"),
    Boundary("decide: batch decided, inbox messages not deleted", "DecideFunction"),
    Boundary("publish: archived, not yet on the warehouse queue", "PublishFunction", "s3:PutObject"),
    Boundary("publish: on the warehouse queue, not yet on the bus", "PublishFunction", "sqs:SendMessageBatch",
             _queue_named("-wh-")),
    Boundary("publish: announced on the bus, rest of the record not done", "PublishFunction", "events:PutEvents",
             _event_of_type("ExportPublished")),
    Boundary("publish: backorder queued, customer not yet notified", "PublishFunction", "sqs:SendMessage",
             _queue_named("backorders")),
    Boundary("publish: batch published, stream not checkpointed", "PublishFunction"),
    Boundary("acknowledge: answer recorded, rest of the batch not done", "AcknowledgeResultsFunction",
             "dynamodb:TransactWriteItems"),
    Boundary("acknowledge: batch recorded, results messages not deleted", "AcknowledgeResultsFunction"),
)

# The functions a timeout is planned in, with how many AWS calls each surely makes for one
# record (a timeout lands on one of them): ingest stores the receipt and enqueues; decide
# reads the order's versions and the tenant, and writes; publish archives, sends to the
# warehouse and announces; acknowledge reads the chain twice and writes.
TIMED_OUT_FUNCTIONS = {"IngestFunction": 2, "DecideFunction": 3, "PublishFunction": 3, "AcknowledgeResultsFunction": 3}


@dataclass
class Timeout:
    function: str
    call_number: int  # the invocation's n-th AWS call
    after: bool  # False: before it is sent; True: it succeeded, the handler never saw the answer


@dataclass
class _Armed:
    order_id: str
    fault: Boundary | Timeout


@dataclass
class Interruptions:
    """Timeouts and crashes planned per order. Each invocation of a function arms the faults
    planned for that function on the orders its event concerns; the first one reached
    happens (a timeout at the invocation's n-th AWS call; a crash at a call boundary at that
    order's own call, or after the handler returned), once. The others stay planned for a
    later invocation: a batch that died early is retried, and reaches them then."""

    timeouts: dict[str, Timeout] = field(default_factory=dict)
    crashes: dict[str, Boundary] = field(default_factory=dict)
    active: bool = False
    injected: Counter[str] = field(default_factory=Counter)
    armed: list[_Armed] = field(default_factory=list)
    calls: int = 0  # AWS calls of the running invocation

    def hooks(self) -> dict[str, Callable]:
        return {"before-parameter-build": self._params, "before-call": self._before_call, "after-call": self._after_call}

    def enter(self, function: str | None, event: dict | None) -> None:
        """The runtime starts (or, with None, ended) an invocation of `function`."""
        self.armed, self.calls = [], 0
        if function is None or not self.active:
            return
        for order_id in dict.fromkeys(orders_in(event or {})):
            for planned in (self.crashes.get(order_id), self.timeouts.get(order_id)):
                if planned is not None and planned.function == function:
                    self.armed.append(_Armed(order_id, planned))

    def returned(self, function: str) -> None:
        """The handler returned: a crash planned for after it happens now."""
        for armed in self.armed:
            if isinstance(armed.fault, Boundary) and armed.fault.call is None:
                self._crash(armed)

    def _params(self, params, context, **_):
        if self.armed:
            context["meshline_params"] = params

    def _before_call(self, model, **_):
        if not self.armed:
            return
        self.calls += 1
        for armed in self.armed:
            if isinstance(armed.fault, Timeout) and armed.fault.call_number == self.calls and not armed.fault.after:
                self._time_out(armed, f"before {_operation(model)}")

    def _after_call(self, http_response, model, context, **_):
        if not self.armed or http_response.status_code >= 300:
            return  # an error answer is the client's to retry; every boundary is after a success
        params = context.get("meshline_params", {})
        for armed in self.armed:
            fault = armed.fault
            if isinstance(fault, Timeout):
                if fault.call_number == self.calls and fault.after:
                    self._time_out(armed, f"after {_operation(model)}")
            elif fault.call == _operation(model) and fault.matches(params) and _names(params, armed.order_id):
                self._crash(armed)

    def _time_out(self, armed: _Armed, where: str) -> None:
        self.timeouts.pop(armed.order_id, None)
        self.armed = []
        self.injected[f"Lambda timeout in {armed.fault.function} ({where})"] += 1
        raise LambdaTimedOut(f"{armed.fault.function} timed out {where}")

    def _crash(self, armed: _Armed) -> None:
        self.crashes.pop(armed.order_id, None)
        self.armed = []
        self.injected[f"crash: {armed.fault.name}"] += 1
        raise ProcessCrashed(armed.fault.name, armed.fault.function)


def _operation(model) -> str:
    return f"{model.service_model.service_name}:{model.name}"


def _names(params: dict[str, Any], order_id: str) -> bool:
    """Whether a call's parameters concern the order (its id is in a key, a body or a URL),
    as a whole id: `shopify-12` is not named by `shopify-123`'s calls."""
    # Bytes as text where they are text (an S3 body); gzipped ones (a stored version) are not
    # searched, the keys beside them name the order.
    text = json.dumps(params, default=lambda value: value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value))
    return re.search(rf"(?<![0-9A-Za-z]){re.escape(order_id)}(?![0-9A-Za-z])", text) is not None


def orders_in(event: dict[str, Any]) -> list[str]:
    """The orders an invocation's event concerns: a Shopify webhook's order, an inbox
    message's order, a stream record's partition, a warehouse answer's export."""
    if "httpMethod" in event:
        try:
            return [f"shopify-{json.loads(event.get('body') or '')['id']}"]
        except (ValueError, KeyError, TypeError):
            return []
    found = []
    for record in event.get("Records", []):
        if "dynamodb" in record:
            partition = record["dynamodb"].get("Keys", {}).get("pk", {}).get("S", "")
            found.append(partition.rsplit("#", 1)[-1])
            continue
        try:
            body = json.loads(record.get("body", ""))
        except ValueError:
            continue
        if isinstance(body, dict) and isinstance(body.get("order"), dict):
            found.append(body["order"].get("order_id", ""))
        elif isinstance(body, dict) and isinstance(body.get("export_id"), str):
            found.append(body["export_id"].split(":")[1] if body["export_id"].count(":") == 2 else "")
    return [order_id for order_id in found if order_id]


# ----------------------------------------------------------------------------- the clock


class HarnessClock:
    """What time it is for Meshline (freezegun, ticking from `start`) and for SQS (the moto
    server's clock, moved by as much): only ever moved forward, both at once."""

    def __init__(self, start: datetime, endpoint_url: str):
        from meshline_local.freezing import freeze_time

        self.endpoint_url = endpoint_url
        self._freezer = freeze_time(start, tick=True)
        self._frozen = None
        self.moved_seconds = 0.0

    def start(self) -> HarnessClock:
        self._frozen = self._freezer.start()
        return self

    def stop(self) -> None:
        if self._frozen is not None:
            self._freezer.stop()
            self._frozen = None

    def now(self) -> datetime:
        return datetime.now(UTC)

    def advance(self, seconds: float) -> None:
        from meshline_local.moto_server import advance_sqs_clock

        if seconds <= 0:
            return
        self._frozen.tick(timedelta(seconds=seconds))
        advance_sqs_clock(self.endpoint_url, seconds)
        self.moved_seconds += seconds

    def advance_to(self, moment: datetime) -> None:
        self.advance((moment - self.now()).total_seconds())
