"""The part of AWS that moto does not run: Lambda's pollers and API Gateway's routing.

Everything here is read from the translated template: which function handles which
route, which queue or stream feeds which function, with what batch size, filters,
partial-failure reporting, retries and on-failure destination. Handlers run in this
process, one invocation at a time, each inside its own function's environment.

Where the local runtime knowingly differs from Lambda, it says so:
- a failed SQS message becomes visible again after `retry_delay` seconds instead of the
  queue's visibility timeout, so retries (and moto's redrive to the DLQ) take seconds;
- stream checkpoints live in a file in the state directory, so a restarted runtime
  resumes where the last successful batch ended, as an event source mapping does;
- feature flags are read from moto's hosted configuration versions, the newest being the
  live one, since moto runs no AppConfigData or deployments (meshline_local.flags).
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import re
import sys
import threading
import time
import urllib.parse
import uuid
import warnings
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable

from botocore.exceptions import ClientError

from meshline.dal import flags
from meshline.dal.aws import client
from meshline_local import docs
from meshline_local.flags import local_store
from meshline_local.gateway import Admitted, Gateway, rejection_body
from meshline_local.provision import ROOT, Deployed, Resolver, sam_functions
from meshline_local.samples import api_gateway_event


class FunctionError(RuntimeError):
    pass


@dataclass
class LambdaContext:
    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    timeout_seconds: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"
    _deadline: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class Function:
    logical_id: str
    name: str
    arn: str
    code_dir: Path
    handler: str
    environment: dict[str, str]
    timeout: int
    memory: int
    _entry: Callable[[dict, Any], Any] | None = None

    def entry_point(self) -> Callable[[dict, Any], Any]:
        if self._entry is None:
            module_name, function_name = self.handler.rsplit(".", 1)
            path = self.code_dir / f"{module_name}.py"
            spec = importlib.util.spec_from_file_location(f"meshline_fn_{self.logical_id}_{module_name}", path)
            if spec is None or spec.loader is None:
                raise FunctionError(f"{self.logical_id}: cannot load {path}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module  # as an import would: pydantic resolves annotations through it
            with _environment(self.environment):
                spec.loader.exec_module(module)
            self._entry = getattr(module, function_name)
        return self._entry


_ENVIRONMENT_LOCK = threading.RLock()


class _environment:
    """The function's environment variables for the duration of one invocation."""

    def __init__(self, variables: dict[str, str]):
        self.variables = variables
        self.saved: dict[str, str] = {}

    def __enter__(self) -> None:
        _ENVIRONMENT_LOCK.acquire()
        self.saved = dict(os.environ)
        os.environ.update(self.variables)

    def __exit__(self, *exc: object) -> None:
        os.environ.clear()
        os.environ.update(self.saved)
        _ENVIRONMENT_LOCK.release()


class _FunctionOutput:
    """sys.stdout for the whole process: a function's output goes to its own log file, as to
    CloudWatch Logs; everything else goes to the terminal. Installed before any handler is
    imported, because Powertools' Logger keeps the stream it found at creation."""

    def __init__(self) -> None:
        self.terminal = sys.stdout
        self.log_dir: Path | None = None
        self.current = threading.local()
        self.files: dict[str, Any] = {}

    def install(self, log_dir: Path) -> None:
        if log_dir != self.log_dir:  # a new deployment (a new state directory) logs afresh
            for handle in self.files.values():
                handle.close()
            self.files.clear()
        self.log_dir = log_dir
        log_dir.mkdir(parents=True, exist_ok=True)
        if sys.stdout is not self:
            self.terminal = sys.stdout
            sys.stdout = self  # type: ignore[assignment]
        # A Powertools Logger created before this (imported by a test, say) writes to the
        # stream it found then; point those handlers here too.
        import logging

        for candidate in [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]:
            for handler in getattr(candidate, "handlers", []):
                if isinstance(handler, logging.StreamHandler) and handler.stream is self.terminal:
                    handler.setStream(self)  # type: ignore[arg-type]

    def to(self, function: Function) -> _FunctionOutput:
        self.current.function = function
        return self

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: object) -> None:
        self.current.function = None

    def _target(self) -> Any:
        function = getattr(self.current, "function", None)
        if function is None or self.log_dir is None:
            return self.terminal
        if function.logical_id not in self.files:
            self.files[function.logical_id] = open(self.log_dir / f"{function.logical_id}.log", "a", buffering=1)
        return self.files[function.logical_id]

    def write(self, text: str) -> int:
        return self._target().write(text)

    def flush(self) -> None:
        self._target().flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.terminal, name)


FUNCTION_OUTPUT = _FunctionOutput()


class Invoker:
    """Runs a function's handler with its environment, one invocation at a time."""

    def __init__(self, log: Callable[[str], None] | None = None):
        self.log = log or (lambda line: None)
        self.invocations: list[tuple[str, float]] = []

    def invoke(self, function: Function, event: dict[str, Any]) -> Any:
        context = LambdaContext(function.name, function.memory, function.arn, function.timeout)
        started = time.perf_counter()
        with _environment({**function.environment, "AWS_LAMBDA_FUNCTION_NAME": function.name}), FUNCTION_OUTPUT.to(function):
            try:
                # A handler that fails to import fails its invocation, as Lambda's Runtime.ImportModuleError does.
                return function.entry_point()(event, context)
            except Exception as error:
                self.log(f"{function.logical_id} failed: {error}")
                raise FunctionError(f"{function.logical_id}: {error}") from error
            finally:
                self.invocations.append((function.logical_id, time.perf_counter() - started))


# --------------------------------------------------------------------------- sources


def _matches(pattern: Any, value: Any) -> bool:
    """The subset of EventBridge / Lambda filter patterns the template uses."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(_matches(sub, value.get(key)) for key, sub in pattern.items())
    if isinstance(pattern, list):
        for rule in pattern:
            if isinstance(rule, dict):
                if "prefix" in rule and isinstance(value, str) and value.startswith(rule["prefix"]):
                    return True
                if "exists" in rule and (value is not None) == rule["exists"]:
                    return True
                if "anything-but" in rule:
                    excluded = rule["anything-but"]
                    excluded = excluded if isinstance(excluded, list) else [excluded]
                    if value is not None and value not in excluded:
                        return True
            elif value == rule:
                return True
        return False
    return pattern == value


def filters_match(filters: list[dict[str, Any]], record: dict[str, Any]) -> bool:
    return not filters or any(_matches(json.loads(f["Pattern"]), record) for f in filters)


@dataclass
class SqsSource:
    function: Function
    queue_url: str
    queue_arn: str
    batch_size: int
    report_failures: bool
    retry_delay: int = 1

    def poll(self, invoker: Invoker) -> int:
        sqs = client("sqs")
        response = sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=min(self.batch_size, 10),
            WaitTimeSeconds=0,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = response.get("Messages", [])
        if not messages:
            return 0
        event = {"Records": [self._record(message) for message in messages]}
        failed: set[str]
        try:
            result = invoker.invoke(self.function, event)
            failed = (
                {item["itemIdentifier"] for item in (result or {}).get("batchItemFailures", [])}
                if self.report_failures
                else set()
            )
        except FunctionError:
            failed = {message["MessageId"] for message in messages}
        for message in messages:
            if message["MessageId"] in failed:
                sqs.change_message_visibility(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=self.retry_delay
                )
            else:
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return len(messages)

    def in_flight(self) -> int:
        attributes = client("sqs").get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        return int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0))

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": {
                name: {
                    "stringValue": value.get("StringValue"),
                    "binaryValue": value.get("BinaryValue"),
                    "stringListValues": [],
                    "binaryListValues": [],
                    "dataType": value["DataType"],
                }
                for name, value in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": self.queue_arn.split(":")[3],
        }


class Checkpoints:
    """Last processed sequence number per stream shard, kept on disk across restarts."""

    def __init__(self, path: Path):
        self.path = path
        self.positions: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}

    def get(self, shard_key: str) -> str | None:
        return self.positions.get(shard_key)

    def set(self, shard_key: str, sequence_number: str) -> None:
        self.positions[shard_key] = sequence_number
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.positions, indent=1))
        temporary.replace(self.path)


STREAM_READ_LIMIT = 1000  # records per GetRecords, DynamoDB Streams' most


@dataclass
class StreamSource:
    function: Function
    stream_arn: str
    batch_size: int
    starting_position: str
    filters: list[dict[str, Any]]
    report_failures: bool
    max_retries: int
    on_failure_queue_arn: str | None
    checkpoints: Checkpoints
    attempts: dict[str, int] = field(default_factory=dict)
    iterators: dict[str, str] = field(default_factory=dict)  # shard -> NextShardIterator of the last read
    log: Callable[[str], None] = lambda line: None

    def poll(self, invoker: Invoker) -> int:
        streams = client("dynamodbstreams")
        handled = 0
        for shard in streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]:
            shard_key = f"{self.stream_arn}|{shard['ShardId']}"
            # As an event source mapping does: follow each shard with the NextShardIterator of
            # the last read, and ask for a new iterator only to (re)start from the checkpoint.
            # (moto keeps every iterator it hands out for the life of the server.)
            iterator = self.iterators.pop(shard_key, None) or self._iterator_from_checkpoint(streams, shard["ShardId"], shard_key)
            try:
                # As an event source mapping does, the batch size counts the records the
                # filters let through: read ahead, filter, then take a batch of those.
                response = streams.get_records(ShardIterator=iterator, Limit=STREAM_READ_LIMIT)
            except ClientError as error:  # e.g. ExpiredIteratorException: start again from the checkpoint next time
                self.log(f"{self.function.logical_id}: get_records on {shard_key} failed ({error}), restarting from the checkpoint")
                continue
            records = response.get("Records", [])
            following = response.get("NextShardIterator")  # None once a closed shard is read to its end
            if not records:
                if following:
                    self.iterators[shard_key] = following
                continue
            handled += len(records)
            records = [self._as_delivered(record) for record in records]
            matching = [record for record in records if filters_match(self.filters, record)]
            batch, waiting = matching[:self.batch_size], matching[self.batch_size:]
            done_through = self._deliver(invoker, shard_key, batch) if batch else records[-1]["dynamodb"]["SequenceNumber"]
            if done_through is None:
                continue  # retry the batch: the next poll starts after the checkpoint
            # Records the filters dropped after the last delivered one are done too, up to
            # the first one waiting for the next batch.
            if batch and done_through == batch[-1]["dynamodb"]["SequenceNumber"]:
                until = records.index(waiting[0]) - 1 if waiting else -1
                done_through = records[until]["dynamodb"]["SequenceNumber"]
            self.checkpoints.set(shard_key, done_through)
            if done_through == records[-1]["dynamodb"]["SequenceNumber"] and following:
                self.iterators[shard_key] = following  # else retry from the first record not done
        return handled

    def waiting(self) -> list[tuple[str, dict[str, Any]]]:
        """(shard key, record) for every record past the checkpoint that the filters let
        through, as Lambda would deliver it: what the function is yet to be handed, for tests
        and benchmarks that hold this source back and hand its records over themselves."""
        streams, found = client("dynamodbstreams"), []
        for shard in streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]:
            shard_key = f"{self.stream_arn}|{shard['ShardId']}"
            iterator = self._iterator_from_checkpoint(streams, shard["ShardId"], shard_key)
            while iterator and (response := streams.get_records(ShardIterator=iterator, Limit=STREAM_READ_LIMIT))["Records"]:
                delivered = (self._as_delivered(record) for record in response["Records"])
                found += [(shard_key, record) for record in delivered if filters_match(self.filters, record)]
                iterator = response.get("NextShardIterator")
        return found

    def _as_delivered(self, record: dict[str, Any]) -> dict[str, Any]:
        return {**record, "eventSourceARN": self.stream_arn, "dynamodb": binary_as_base64(record["dynamodb"])}

    def _iterator_from_checkpoint(self, streams: Any, shard_id: str, shard_key: str) -> str:
        request: dict[str, Any] = {"StreamArn": self.stream_arn, "ShardId": shard_id}
        last = self.checkpoints.get(shard_key)
        if last:
            request.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=last)
        else:
            request.update(ShardIteratorType=self.starting_position)
        return streams.get_shard_iterator(**request)["ShardIterator"]

    def _deliver(self, invoker: Invoker, shard_key: str, records: list[dict[str, Any]]) -> str | None:
        """Returns the sequence number processed through, or None to retry the batch later."""
        first_sequence = records[0]["dynamodb"]["SequenceNumber"]
        try:
            result = invoker.invoke(self.function, {"Records": records})
            failures = [item["itemIdentifier"] for item in (result or {}).get("batchItemFailures", [])] if self.report_failures else []
        except FunctionError:
            failures = [first_sequence]
        if not failures:
            self.attempts.pop(shard_key, None)
            return records[-1]["dynamodb"]["SequenceNumber"]
        first_failed = min(failures, key=int)
        attempts = self.attempts.get(shard_key, 0) + 1
        self.attempts[shard_key] = attempts
        if attempts <= self.max_retries:
            before = [record for record in records if int(record["dynamodb"]["SequenceNumber"]) < int(first_failed)]
            return before[-1]["dynamodb"]["SequenceNumber"] if before else None
        self._send_to_failure_destination(records, first_failed)
        self.attempts.pop(shard_key, None)
        return records[-1]["dynamodb"]["SequenceNumber"]

    def _send_to_failure_destination(self, records: list[dict[str, Any]], first_failed: str) -> None:
        if not self.on_failure_queue_arn:
            return
        name = self.on_failure_queue_arn.rsplit(":", 1)[1]
        sqs = client("sqs")
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        sqs.send_message(
            QueueUrl=url,
            MessageBody=json.dumps(
                {
                    "requestContext": {"condition": "RetryAttemptsExhausted", "functionArn": self.function.arn},
                    "DDBStreamBatchInfo": {
                        "streamArn": self.stream_arn,
                        "startSequenceNumber": first_failed,
                        "endSequenceNumber": records[-1]["dynamodb"]["SequenceNumber"],
                        "batchSize": len(records),
                    },
                }
            ),
        )


def binary_as_base64(value: Any) -> Any:
    """A stream record's binary attribute values as Lambda delivers them, base64 text (boto3
    hands this poller bytes)."""
    if isinstance(value, dict):
        return {key: base64.b64encode(inner).decode() if key == "B" and isinstance(inner, bytes)
                else [base64.b64encode(b).decode() for b in inner] if key == "BS"
                else binary_as_base64(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [binary_as_base64(inner) for inner in value]
    return value


@dataclass
class Route:
    method: str
    resource: str
    function: Function
    pattern: re.Pattern[str]
    gateway: Gateway | None = None
    security: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def of(cls, method: str, resource: str, function: Function, gateway: Gateway | None = None,
           security: list[dict[str, Any]] | None = None) -> Route:
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(resource))
        return cls(method.upper(), resource, function, re.compile(f"^(?:/[^/]+)?{regex}$"), gateway, security or [])


# --------------------------------------------------------------------------- the stack


@dataclass
class ScheduleSource:
    """An EventBridge schedule rule targeting a function. Locally it fires when asked
    (`fire_schedules`, as tests do after moving the clock) and, under `run_pollers`,
    every `rate` seconds of its `rate(...)` expression."""

    function: Function
    rule_name: str
    expression: str
    last_fired: float = 0.0

    @property
    def every_seconds(self) -> float:
        match = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours)\)", self.expression)
        if not match:
            raise ValueError(f"schedule {self.rule_name}: only rate(N minutes|hours) is played locally, not {self.expression}")
        return int(match.group(1)) * (3600 if match.group(2).startswith("hour") else 60)

    def fire(self, invoker: Invoker) -> Any:
        self.last_fired = time.monotonic()
        event = {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
                 "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "region": "us-east-1",
                 "resources": [self.rule_name], "detail": {}}
        return invoker.invoke(self.function, event)


class LocalRuntime:
    """Functions, routes and sources of a deployed template, and the loops that drive them."""

    def __init__(self, cfn: dict[str, Any], deployed: Deployed, endpoint_url: str, state_dir: Path,
                 log: Callable[[str], None] | None = None):
        self.cfn = cfn
        self.deployed = deployed
        self.endpoint_url = endpoint_url
        self.log = log or (lambda line: None)
        self.log_dir = state_dir / "logs"
        FUNCTION_OUTPUT.install(self.log_dir)
        # moto runs no AppConfigData: the functions read their flags from moto's hosted versions.
        flags.use_store(local_store)
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        self.invoker = Invoker(self.log)
        resolver = Resolver(deployed)
        sam = sam_functions()
        self.functions: dict[str, Function] = {}
        for name, resource in cfn["Resources"].items():
            if resource["Type"] != "AWS::Lambda::Function":
                continue
            properties = resolver.resolve(resource["Properties"])
            environment = {k: str(v) for k, v in properties.get("Environment", {}).get("Variables", {}).items()}
            environment.update(
                AWS_ENDPOINT_URL=endpoint_url,
                AWS_REGION=deployed.region,
                AWS_DEFAULT_REGION=deployed.region,
                POWERTOOLS_TRACE_DISABLED="true",
            )
            self.functions[name] = Function(
                logical_id=name,
                name=properties.get("FunctionName", name),
                arn=deployed.attributes[name]["Arn"],
                code_dir=ROOT / sam[name]["CodeUri"],
                handler=properties["Handler"],
                environment=environment,
                timeout=int(properties.get("Timeout", 3)),
                memory=int(properties.get("MemorySize", 128)),
            )
        self.checkpoints = Checkpoints(state_dir / "stream-checkpoints.json")
        self.sources: list[SqsSource | StreamSource] = []
        for name, resource in cfn["Resources"].items():
            if resource["Type"] == "AWS::Lambda::EventSourceMapping":
                self.sources.append(self._source(resolver.resolve(resource["Properties"]), resource["Properties"]))
        self.gateways: list[Gateway] = []
        self.routes = self._routes(cfn)
        self.schedules = [
            ScheduleSource(self._function_for(target["Arn"]["Fn::GetAtt"][0]), name, resource["Properties"]["ScheduleExpression"])
            for name, resource in cfn["Resources"].items()
            if resource["Type"] == "AWS::Events::Rule" and "ScheduleExpression" in resource["Properties"]
            for target in resource["Properties"].get("Targets", [])
        ]

    def _function_for(self, raw_reference: Any) -> Function:
        logical = raw_reference.get("Ref") if isinstance(raw_reference, dict) else raw_reference
        return self.functions[logical]

    def _source(self, properties: dict[str, Any], raw: dict[str, Any]) -> SqsSource | StreamSource:
        function = self._function_for(raw["FunctionName"])
        arn = properties["EventSourceArn"]
        report = "ReportBatchItemFailures" in properties.get("FunctionResponseTypes", [])
        if ":sqs:" in arn:
            queue_name = arn.rsplit(":", 1)[1]
            url = client("sqs").get_queue_url(QueueName=queue_name)["QueueUrl"]
            return SqsSource(function, url, arn, int(properties.get("BatchSize", 10)), report)
        return StreamSource(
            function=function,
            stream_arn=arn,
            batch_size=int(properties.get("BatchSize", 100)),
            starting_position=properties.get("StartingPosition", "TRIM_HORIZON"),
            filters=properties.get("FilterCriteria", {}).get("Filters", []),
            report_failures=report,
            max_retries=int(properties.get("MaximumRetryAttempts", 3)),
            on_failure_queue_arn=properties.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination"),
            checkpoints=self.checkpoints,
            log=self.log,
        )

    def _routes(self, cfn: dict[str, Any]) -> list[Route]:
        routes = []
        stage = self.deployed.parameters.get("Stage", "local")
        for name, resource in cfn["Resources"].items():
            if resource["Type"] != "AWS::ApiGateway::RestApi":
                continue
            gateway = Gateway(name, resource["Properties"], self.functions, stage, self.deployed.region,
                              lambda function, event: self.invoker.invoke(function, event))
            self.gateways.append(gateway)
            for path, methods in resource["Properties"].get("Body", {}).get("paths", {}).items():
                for method, operation in methods.items():
                    uri = operation.get("x-amazon-apigateway-integration", {}).get("uri", {})
                    text = uri.get("Fn::Sub", "") if isinstance(uri, dict) else str(uri)
                    target = re.search(r"\$\{(\w+)\.Arn\}", text if isinstance(text, str) else text[0])
                    if target:
                        routes.append(Route.of(method, path, self.functions[target.group(1)], gateway,
                                               operation.get("security", [])))
        return routes

    # ---------------------------------------------------------------- driving

    def poll_once(self) -> int:
        return sum(source.poll(self.invoker) for source in self.sources)

    def in_flight(self) -> int:
        """Messages received but neither deleted nor yet visible again (e.g. waiting for a retry)."""
        return sum(source.in_flight() for source in self.sources if isinstance(source, SqsSource))

    def settle(self, timeout: float = 30.0, quiet_rounds: int = 2) -> None:
        """Poll every source until nothing moves for `quiet_rounds` rounds in a row."""
        deadline = time.monotonic() + timeout
        quiet = 0
        while quiet < quiet_rounds:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the local stack did not settle within {timeout} s")
            if self.poll_once():
                quiet = 0  # something moved: look again at once, what it sent may be waiting
            elif self.in_flight():
                quiet = 0
                time.sleep(0.05)  # a failed message becomes visible again after retry_delay
            else:
                quiet += 1
                time.sleep(0.05)

    def fire_schedules(self) -> list[Any]:
        """Run every scheduled function once now (what EventBridge does when its rate comes round)."""
        return [schedule.fire(self.invoker) for schedule in self.schedules]

    def run_until(self, condition: Callable[[], Any], timeout: float = 60.0, what: str = "the condition") -> Any:
        """Keep the pollers going until `condition()` is truthy (e.g. an escalation, which
        moto runs on its own clock, has ended); return what it returned."""
        deadline = time.monotonic() + timeout
        while True:
            self.poll_once()
            found = condition()
            if found:
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} did not happen within {timeout} s")
            time.sleep(0.1)

    def run_pollers(self, stop: threading.Event, interval: float = 0.2) -> None:
        while not stop.is_set():
            try:
                for schedule in self.schedules:
                    if time.monotonic() - schedule.last_fired >= schedule.every_seconds:
                        schedule.fire(self.invoker)
                if not self.poll_once():
                    stop.wait(interval)
            except Exception as error:  # keep polling: one bad round must not stop the stack
                self.log(f"poller error: {error!r}")
                stop.wait(1.0)

    def handle_http(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        documentation = docs.serve(method, path, self.deployed.parameters.get("Stage", "local"))
        if documentation is not None:
            return documentation
        for route in self.routes:
            match = route.pattern.match(path.split("?", 1)[0])
            if match and route.method == method.upper():
                stage = self.deployed.parameters.get("Stage", "local")
                admitted = Admitted()
                if route.gateway is not None:
                    admitted = route.gateway.admit(route.security, method, route.resource, headers)
                    if isinstance(admitted, tuple):
                        return admitted[0], {"Content-Type": "application/json"}, rejection_body(admitted)
                query = dict(urllib.parse.parse_qsl(path.partition("?")[2]))
                event = api_gateway_event(
                    method, _strip_stage(path, route), route.resource, match.groupdict(), headers, body, stage=stage,
                    query=query, authorizer=admitted.authorizer, user_arn=admitted.user_arn,
                )
                try:
                    response = self.invoker.invoke(route.function, event)
                except FunctionError as error:
                    return 502, {"Content-Type": "application/json"}, json.dumps({"message": f"Internal server error: {error}"}).encode()
                payload = response.get("body") or ""
                raw = base64.b64decode(payload) if response.get("isBase64Encoded") else payload.encode()
                # REST proxy integrations may answer in `multiValueHeaders` (Powertools does); API Gateway merges both.
                answered = dict(response.get("headers") or {})
                for name, values in (response.get("multiValueHeaders") or {}).items():
                    answered[name] = ", ".join(values)
                return int(response.get("statusCode", 200)), answered, raw
        return 404, {"Content-Type": "application/json"}, json.dumps({"message": f"no route for {method} {path}"}).encode()

    def forget_authorizations(self) -> None:
        """As if the authorizers' cached answers had expired (revocation, rotation tests)."""
        for gateway in self.gateways:
            gateway.forget_authorizations()

    def serve_http(self, host: str, port: int) -> ThreadingHTTPServer:
        runtime = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers, payload = runtime.handle_http(self.command, self.path, dict(self.headers.items()), body)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_POST = do_GET = do_PUT = do_DELETE = do_PATCH = _any

            def log_message(self, format: str, *args: Any) -> None:
                runtime.log(f"api {self.command} {self.path} -> {args[1] if len(args) > 1 else ''}")

        server = ThreadingHTTPServer((host, port), Handler)
        threading.Thread(target=server.serve_forever, name="local-api", daemon=True).start()
        return server


def _strip_stage(path: str, route: Route) -> str:
    """API Gateway's event `path` excludes the stage; accept requests with or without it."""
    bare = path.split("?", 1)[0]
    first, _, rest = bare.lstrip("/").partition("/")
    if rest and not route.resource.lstrip("/").startswith(first):
        return "/" + rest
    return bare


def print_line(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
