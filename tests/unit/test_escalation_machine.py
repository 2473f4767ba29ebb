"""statemachines/escalation.asl.json, executed on moto's Step Functions interpreter.

Each test starts a real execution in-process (moto runs it in a background thread) and
plays the humans: it reads the task messages off the tasks queue, answers them with
SendTaskSuccess / SendTaskFailure or lets them time out, and then checks what the machine
did: the task messages, the events on the bus (routed by a rule to an observer queue),
the outcome message and the execution's status and output.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from meshline_local.asl import render_definition

DEFINITION = Path(__file__).resolve().parents[2] / "statemachines" / "escalation.asl.json"
ROLE_ARN = "arn:aws:iam::123456789012:role/x"
BUS = "meshline-test-bus"
SOURCE = "meshline.escalation"

T = TypeVar("T")


def wait_for(probe: Callable[[], T | None], *, within: float, what: str, every: float = 0.05) -> T:
    """Poll ``probe`` until it returns something other than None; fail saying ``what`` we waited for."""
    deadline = time.monotonic() + within
    while True:
        value = probe()
        if value is not None:
            return value
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {within}s waiting for {what}")
        time.sleep(every)


@dataclass
class Stack:
    sqs: Any
    sfn: Any
    tasks_url: str
    outcomes_url: str
    observed_events_url: str
    state_machine_arn: str

    def create_machine(self, name: str, **overrides: str) -> str:
        substitutions = {
            "EventBusName": BUS,
            "EscalationTasksQueueUrl": self.tasks_url,
            "EscalationOutcomesQueueUrl": self.outcomes_url,
            **overrides,
        }
        return self.sfn.create_state_machine(
            name=name, definition=render_definition(DEFINITION, substitutions), roleArn=ROLE_ARN
        )["stateMachineArn"]

    def start(self, escalation: dict[str, Any], name: str, machine: str | None = None) -> str:
        return self.sfn.start_execution(
            stateMachineArn=machine or self.state_machine_arn, name=name, input=json.dumps(escalation)
        )["executionArn"]

    def next_message(self, queue_url: str, *, within: float, what: str) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            messages = self.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=1).get("Messages", [])
            if not messages:
                return None
            self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=messages[0]["ReceiptHandle"])
            return json.loads(messages[0]["Body"])

        return wait_for(probe, within=within, what=what)

    def drain(self, queue_url: str) -> list[dict[str, Any]]:
        """Everything on the queue now (deliveries are synchronous in moto, so nothing is in flight)."""
        bodies: list[dict[str, Any]] = []
        while messages := self.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
            for message in messages:
                bodies.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return bodies

    def finished(self, execution_arn: str, *, within: float) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            described = self.sfn.describe_execution(executionArn=execution_arn)
            return None if described["status"] == "RUNNING" else described

        return wait_for(probe, within=within, what=f"execution {execution_arn} to finish")

    def events(self) -> list[tuple[str, dict[str, Any]]]:
        observed = self.drain(self.observed_events_url)
        assert all(event["source"] == SOURCE for event in observed), observed
        return [(event["detail-type"], event["detail"]) for event in observed]


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


@pytest.fixture
def stack(aws_env: None) -> Iterator[Stack]:
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        sqs = boto3.client("sqs")
        events = boto3.client("events")
        sfn = boto3.client("stepfunctions")
        events.create_event_bus(Name=BUS)
        observed_url = sqs.create_queue(QueueName="observed-escalation-events")["QueueUrl"]
        observed_arn = sqs.get_queue_attributes(QueueUrl=observed_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="escalation-events", EventBusName=BUS, EventPattern=json.dumps({"source": [SOURCE]}))
        events.put_targets(Rule="escalation-events", EventBusName=BUS, Targets=[{"Id": "observer", "Arn": observed_arn}])
        built = Stack(
            sqs=sqs,
            sfn=sfn,
            tasks_url=sqs.create_queue(QueueName="escalation-tasks")["QueueUrl"],
            outcomes_url=sqs.create_queue(QueueName="escalation-outcomes")["QueueUrl"],
            observed_events_url=observed_url,
            state_machine_arn="",
        )
        built.state_machine_arn = built.create_machine("escalation")
        yield built
        # A failed test can leave an execution waiting on a token; stop it while the mock is still up.
        for machine in sfn.list_state_machines()["stateMachines"]:
            for running in sfn.list_executions(stateMachineArn=machine["stateMachineArn"], statusFilter="RUNNING")["executions"]:
                sfn.stop_execution(executionArn=running["executionArn"])


def escalation(*timeouts: int) -> dict[str, Any]:
    contacts = ["ops@agency.example", "lead@agency.example", "head@agency.example", "cto@agency.example", "ceo@agency.example"]
    return {
        "escalation_id": "acme:shopify-1001:v3",
        "tenant_id": "acme",
        "order_id": "shopify-1001",
        "export_version": 3,
        "reason": "rejected:out_of_stock",
        "owner": "agency:ops-team",
        "ladder": [{"contact": contact, "timeout_seconds": seconds} for contact, seconds in zip(contacts, timeouts)],
        "rung": 0,
    }


IDS = {"escalation_id": "acme:shopify-1001:v3", "tenant_id": "acme", "order_id": "shopify-1001", "export_version": 3}


def expected_task(case: dict[str, Any], rung: int) -> dict[str, Any]:
    return {**IDS, "reason": "rejected:out_of_stock", "rung": rung, **case["ladder"][rung]}


def opened_event(case: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return ("EscalationOpened", {**IDS, "reason": "rejected:out_of_stock", "owner": "agency:ops-team", "ladder": case["ladder"]})


def climbed_event(case: dict[str, Any], rung: int) -> tuple[str, dict[str, Any]]:
    return ("EscalationClimbed", {**IDS, "reason": "rejected:out_of_stock", "owner": "agency:ops-team", "rung": rung, **case["ladder"][rung]})


def take_task(stack: Stack, case: dict[str, Any], rung: int, *, within: float) -> str:
    """The task message for ``rung``, checked field by field; returns its token."""
    task = stack.next_message(stack.tasks_url, within=within, what=f"the task message for rung {rung}")
    token = task.pop("task_token")
    assert isinstance(token, str) and token
    assert task == expected_task(case, rung)
    return token


def test_first_rung_resolves(stack: Stack) -> None:
    case = escalation(30, 30)
    execution = stack.start(case, "first-rung-resolves")
    token = take_task(stack, case, 0, within=10)

    resolution = {"resolution": "override", "resolved_by": "ops@agency.example", "export_id": "exp-42"}
    stack.sfn.send_task_success(taskToken=token, output=json.dumps(resolution))
    finished = stack.finished(execution, within=10)

    outcome = {"outcome": "resolved", **IDS, "rung": 0, "resolution": resolution}
    assert finished["status"] == "SUCCEEDED", finished
    assert json.loads(finished["output"]) == outcome
    assert stack.next_message(stack.outcomes_url, within=5, what="the outcome message") == outcome
    assert stack.drain(stack.outcomes_url) == []
    assert stack.drain(stack.tasks_url) == [], "no second rung after a resolution"
    assert stack.events() == [opened_event(case)]


def test_timeout_climbs_to_the_next_rung_which_resolves(stack: Stack) -> None:
    case = escalation(1, 30)
    execution = stack.start(case, "climb-then-resolve")
    first_token = take_task(stack, case, 0, within=10)
    first_seen = time.monotonic()

    second_token = take_task(stack, case, 1, within=10)
    assert time.monotonic() - first_seen >= 0.9, "climbed before rung 0's timeout_seconds ran out"

    # A late answer to rung 0 must not resolve the escalation. Real AWS rejects the timed-out
    # token (TaskTimedOut); moto 5.2.5 accepts it and ignores it.
    try:
        stack.sfn.send_task_success(taskToken=first_token, output=json.dumps({"resolution": "late"}))
    except ClientError as error:
        assert error.response["Error"]["Code"] in {"TaskTimedOut", "InvalidToken"}, error
    assert stack.sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"

    resolution = {"resolution": "override", "resolved_by": "lead@agency.example", "export_id": "exp-43"}
    stack.sfn.send_task_success(taskToken=second_token, output=json.dumps(resolution))
    finished = stack.finished(execution, within=10)

    outcome = {"outcome": "resolved", **IDS, "rung": 1, "resolution": resolution}
    assert finished["status"] == "SUCCEEDED", finished
    assert json.loads(finished["output"]) == outcome
    assert stack.next_message(stack.outcomes_url, within=5, what="the outcome message") == outcome
    assert stack.drain(stack.outcomes_url) == []
    assert stack.events() == [opened_event(case), climbed_event(case, 1)]

    history = stack.sfn.get_execution_history(executionArn=execution)["events"]
    timed_out = [event["taskTimedOutEventDetails"]["error"] for event in history if event["type"] == "TaskTimedOut"]
    assert timed_out == ["States.Timeout"]


@pytest.mark.parametrize("timeouts", [(1,), (1, 1, 1)], ids=["one-rung", "three-rungs"])
def test_breach_when_every_rung_times_out(stack: Stack, timeouts: tuple[int, ...]) -> None:
    case = escalation(*timeouts)
    last = len(timeouts) - 1
    started = time.monotonic()
    execution = stack.start(case, f"breach-{len(timeouts)}")

    for rung in range(len(timeouts)):
        take_task(stack, case, rung, within=10)
    finished = stack.finished(execution, within=10)
    assert time.monotonic() - started >= sum(timeouts) - 0.5, "breached before the ladder's timeouts ran out"

    outcome = {"outcome": "breached", **IDS, "rung": last}
    assert finished["status"] == "SUCCEEDED", finished
    assert json.loads(finished["output"]) == outcome
    assert stack.next_message(stack.outcomes_url, within=5, what="the outcome message") == outcome
    assert stack.drain(stack.outcomes_url) == []
    assert stack.drain(stack.tasks_url) == []
    assert stack.events() == [opened_event(case)] + [climbed_event(case, rung) for rung in range(1, len(timeouts))]


def test_task_failure_withdraws_the_escalation(stack: Stack) -> None:
    case = escalation(30, 30)
    execution = stack.start(case, "withdrawn")
    token = take_task(stack, case, 0, within=10)

    stack.sfn.send_task_failure(taskToken=token, error="Escalation.Withdrawn", cause="order shopify-1001 was cancelled")
    finished = stack.finished(execution, within=10)

    assert finished["status"] == "SUCCEEDED", finished
    output = json.loads(finished["output"])
    assert stack.next_message(stack.outcomes_url, within=5, what="the outcome message") == output
    failure = output.pop("failure")
    assert output == {"outcome": "withdrawn", **IDS, "rung": 0}
    assert failure["Error"] == "Escalation.Withdrawn"
    # Real AWS passes the cause through; moto 5.2.5's SendTaskFailure handler drops it (None).
    assert failure["Cause"] in {"order shopify-1001 was cancelled", None}
    assert stack.drain(stack.tasks_url) == []
    assert stack.events() == [opened_event(case)]


def test_an_undeliverable_task_fails_the_execution_instead_of_withdrawing(stack: Stack) -> None:
    machine = stack.create_machine("escalation-no-queue", EscalationTasksQueueUrl=stack.tasks_url + "-missing")
    execution = stack.start(escalation(30), "undeliverable", machine=machine)
    finished = stack.finished(execution, within=10)

    assert finished["status"] == "FAILED", finished
    assert finished["error"] == "Escalation.TaskNotDelivered"
    assert stack.drain(stack.outcomes_url) == []


def test_render_definition_fills_every_placeholder() -> None:
    rendered = render_definition(
        DEFINITION, {"EventBusName": "bus", "EscalationTasksQueueUrl": "https://tasks", "EscalationOutcomesQueueUrl": "https://outcomes"}
    )
    states = json.loads(rendered)["States"]
    assert "${" not in rendered
    assert states["AwaitHuman"]["Parameters"]["QueueUrl"] == "https://tasks"
    assert states["SendOutcome"]["Parameters"]["QueueUrl"] == "https://outcomes"
    assert states["AnnounceOpened"]["Parameters"]["Entries"][0]["EventBusName"] == "bus"


def test_render_definition_names_the_missing_placeholders() -> None:
    with pytest.raises(ValueError, match=r"\$\{EscalationOutcomesQueueUrl\}, \$\{EventBusName\}"):
        render_definition(DEFINITION, {"EscalationTasksQueueUrl": "https://tasks"})
