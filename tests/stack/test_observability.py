"""The template's alarms and dashboard, as the local stack creates them from template.yaml."""

import json

from meshline.dal.aws import client


def test_every_dead_letter_queue_has_an_alarm_and_the_dashboard_names_the_real_queues(stack):
    cloudwatch = client("cloudwatch")
    alarms = {alarm["AlarmName"]: alarm for alarm in cloudwatch.describe_alarms()["MetricAlarms"]}
    dlq_alarmed = {d["Value"] for alarm in alarms.values() for d in alarm.get("Dimensions", []) if d["Name"] == "QueueName"}
    queues = {url.rsplit("/", 1)[1] for url in client("sqs").list_queues()["QueueUrls"]}
    dead_letter = {name for name in queues if name.endswith(("-dlq", "-dlq.fifo", "-failures"))}
    assert dead_letter and dead_letter == dlq_alarmed
    watched = []
    for name in ("meshline-local-function-errors", "meshline-local-api-function-errors"):
        errors = alarms[name]
        counted = [query for query in errors["Metrics"] if "MetricStat" in query]
        summed = [query["Expression"] for query in errors["Metrics"] if query.get("ReturnData")]
        assert summed == [" + ".join(query["Id"] for query in counted)] and len(counted) <= 10  # CloudWatch's limit
        watched += [query["MetricStat"]["Metric"]["Dimensions"][0]["Value"] for query in counted]
    assert sorted(watched) == sorted(fn.name for fn in stack.runtime.functions.values())  # each function once
    assert "meshline-local-sla-breach-rate" in alarms

    body = json.loads(cloudwatch.get_dashboard(DashboardName="meshline-local")["DashboardBody"])
    titles = [widget["properties"]["title"] for widget in body["widgets"]]
    assert titles == ["Exports", "Exceptions", "Dead-letter queues (messages)", "Function errors"]
    dashboard_queues = {row[-1] for row in body["widgets"][2]["properties"]["metrics"]}
    assert dashboard_queues == dead_letter
