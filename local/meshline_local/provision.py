"""Create the resources of template.yaml in moto: the template is the only list of them.

The SAM template is translated to CloudFormation with samtranslator (what `sam deploy`
sends), then each resource is created through moto's service APIs, in dependency order,
with Ref / Fn::GetAtt / Fn::Sub resolved here.

Why not moto's own CloudFormation: measured with moto 5.2.5, it cannot deploy this
template as is (an API Gateway deployment fails with "The REST API doesn't contain any
methods"), resolves `Ref` to an event bus as an object, drops the bucket's Object Lock
configuration, ignores bucket policies and alarms, and its event source mappings would
consume our queues without running any code. Resources Lambda's runtime side provides
(event source mappings, API Gateway routing) are not created in moto: the local runtime
reads them from the translated template and plays them itself.
"""

from __future__ import annotations

import copy
import io
import json
import os
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from meshline.dal.aws import client

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
ACCOUNT_ID = "123456789012"
LOCAL_CODE_BUCKET = "meshline-local-code"

# Played by the local runtime (meshline_local.runtime), not created in moto.
PLAYED_BY_RUNTIME = {
    "AWS::Lambda::EventSourceMapping",
    "AWS::ApiGateway::RestApi",
    "AWS::ApiGateway::Deployment",
    "AWS::ApiGateway::Stage",
    "AWS::Lambda::Permission",
}


# moto 5.2.5 implements AppConfig applications, configuration profiles and hosted
# configuration versions (create and get; no list), but not environments, deployment
# strategies or deployments, nor AppConfigData, which reads what a deployment made live. So
# those three are recorded here with local ids and not created: on the local stack the
# newest hosted version of a profile is the live one (meshline_local.flags reads it, in
# place of Powertools' AppConfigStore).
NOT_IN_MOTO = {
    "AWS::AppConfig::Environment": "EnvironmentId",
    "AWS::AppConfig::DeploymentStrategy": "Id",
    "AWS::AppConfig::Deployment": "DeploymentNumber",
}


class UnsupportedResource(RuntimeError):
    pass


_PARSED: dict[tuple[Path, int, int], dict[str, Any]] = {}


def _parsed(template_path: Path) -> dict[str, Any]:
    """The template as parsed by samtranslator, a fresh copy each time: PyYAML takes most of
    a second on template.yaml, and a stack restarts (tests, the fault harness's crashes)
    parse it twice each time. Parsed again whenever the file changes."""
    from samtranslator.yaml_helper import yaml_parse

    stat = template_path.stat()
    key = (template_path, stat.st_mtime_ns, stat.st_size)
    if key not in _PARSED:
        _PARSED.clear()
        _PARSED[key] = yaml_parse(template_path.read_text())
    return copy.deepcopy(_PARSED[key])


def translate(template_path: Path = TEMPLATE, region: str = "us-east-1") -> dict[str, Any]:
    """SAM -> CloudFormation, offline, as `sam deploy` would transform it."""
    import boto3
    from samtranslator.translator.transform import transform

    template = _parsed(template_path)
    # The transform wants code locations in S3; the local runtime reads CodeUri from here instead.
    for name, resource in template["Resources"].items():
        properties = resource.setdefault("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function":
            properties["CodeUri"] = f"s3://{LOCAL_CODE_BUCKET}/{name}.zip"
        elif resource["Type"] == "AWS::Serverless::LayerVersion":
            properties["ContentUri"] = f"s3://{LOCAL_CODE_BUCKET}/{name}.zip"
        elif resource["Type"] == "AWS::Serverless::StateMachine" and "DefinitionUri" in properties:
            # Rendered from the file on disk by _state_machine; the transform only needs a location.
            properties["DefinitionUri"] = f"s3://{LOCAL_CODE_BUCKET}/{name}.asl.json"

    class NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    session = boto3.session.Session(region_name=region)
    return transform(template, {}, NoManagedPolicies(), session)


def sam_functions(template_path: Path = TEMPLATE) -> dict[str, dict[str, Any]]:
    """The SAM functions as written (CodeUri and Handler locate the code on disk)."""
    template = _parsed(template_path)
    return {
        name: resource["Properties"]
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


@dataclass
class Deployed:
    """Physical ids and attributes of the created resources, by logical id."""

    parameters: dict[str, str]
    region: str
    physical: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, dict[str, str]] = field(default_factory=dict)
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)


class Resolver:
    def __init__(self, deployed: Deployed):
        self.deployed = deployed

    def pseudo(self) -> dict[str, str]:
        return {
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Region": self.deployed.region,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": f"meshline-{self.deployed.parameters.get('Stage', 'local')}",
            "AWS::NoValue": None,  # type: ignore[dict-item]
        }

    def ref(self, name: str) -> str:
        if name in self.deployed.parameters:
            return self.deployed.parameters[name]
        pseudo = self.pseudo()
        if name in pseudo:
            return pseudo[name]
        if name in self.deployed.physical:
            return self.deployed.physical[name]
        raise KeyError(f"Ref to {name}, which is not created (yet)")

    def get_att(self, name: str, attribute: str) -> str:
        try:
            return self.deployed.attributes[name][attribute]
        except KeyError:
            raise KeyError(f"Fn::GetAtt {name}.{attribute} is not known locally") from None

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, argument), = value.items()
            if key == "Ref":
                return self.ref(argument)
            if key == "Fn::GetAtt":
                name, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
                return self.get_att(name, attribute)
            if key == "Fn::Sub":
                text, variables = (argument, {}) if isinstance(argument, str) else argument
                variables = {k: self.resolve(v) for k, v in variables.items()}
                return re.sub(r"\$\{([^}!]+)\}", lambda m: str(self._sub_value(m.group(1), variables)), text)
            if key == "Fn::Join":
                separator, items = argument
                return separator.join(str(item) for item in self.resolve(items))
            if key == "Fn::Select":
                index, items = argument
                return self.resolve(items)[int(index)]
        return {key: self.resolve(item) for key, item in value.items()}

    def _sub_value(self, name: str, variables: dict[str, Any]) -> Any:
        if name in variables:
            return variables[name]
        if "." in name:
            return self.get_att(*name.split(".", 1))
        return self.ref(name)


def references(value: Any) -> set[str]:
    """Logical ids a resource's properties refer to (for creation order)."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= references(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str):
                found.add(item)
            elif key == "Fn::GetAtt":
                found.add(item[0] if isinstance(item, list) else item.split(".", 1)[0])
            elif key == "Fn::Sub":
                text = item if isinstance(item, str) else item[0]
                found |= {m.split(".", 1)[0] for m in re.findall(r"\$\{([^}!]+)\}", text)}
                if not isinstance(item, str):
                    found |= references(item[1])
            else:
                found |= references(item)
    return found


def creation_order(resources: dict[str, dict[str, Any]]) -> list[str]:
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in order or name not in resources:
            return
        if name in visiting:
            raise RuntimeError(f"circular reference through {name}")
        visiting.add(name)
        resource = resources[name]
        for dependency in sorted(references(resource.get("Properties", {})) | set(_depends_on(resource))):
            visit(dependency)
        visiting.discard(name)
        order.append(name)

    for name in sorted(resources):
        visit(name)
    return order


def _depends_on(resource: dict[str, Any]) -> list[str]:
    depends = resource.get("DependsOn", [])
    return [depends] if isinstance(depends, str) else list(depends)


def deploy(cfn: dict[str, Any], parameters: dict[str, str], region: str = "us-east-1") -> Deployed:
    defaults = {name: str(spec.get("Default")) for name, spec in cfn.get("Parameters", {}).items() if "Default" in spec}
    deployed = Deployed(parameters={**defaults, **parameters}, region=region, resources=cfn["Resources"])
    resolver = Resolver(deployed)
    unsupported = sorted(
        {res["Type"] for res in cfn["Resources"].values()} - set(_CREATORS) - PLAYED_BY_RUNTIME - set(NOT_IN_MOTO)
    )
    if unsupported:
        raise UnsupportedResource(
            "the local stack cannot create " + ", ".join(unsupported) + ": teach meshline_local.provision about them"
        )
    for name in creation_order(cfn["Resources"]):
        resource = cfn["Resources"][name]
        if resource["Type"] in PLAYED_BY_RUNTIME:
            # A stage's Ref is its name, as in CloudFormation (usage plans refer to it).
            stage_name = resource.get("Properties", {}).get("StageName")
            is_stage = resource["Type"] == "AWS::ApiGateway::Stage" and stage_name
            deployed.physical[name] = resolver.resolve(stage_name) if is_stage else f"local-{name}"
            continue
        if resource["Type"] in NOT_IN_MOTO:
            deployed.physical[name] = f"local-{name}"
            deployed.attributes[name] = {NOT_IN_MOTO[resource["Type"]]: f"local-{name}"}
            continue
        properties = resolver.resolve(resource.get("Properties", {}))
        physical, attributes = _CREATORS[resource["Type"]](name, properties, deployed)
        deployed.physical[name] = physical
        deployed.attributes[name] = attributes
    return deployed


def _arn(service: str, region: str, resource: str) -> str:
    return f"arn:aws:{service}:{region}:{ACCOUNT_ID}:{resource}"


def _queue(name: str, p: dict[str, Any], d: Deployed) -> tuple[str, dict[str, str]]:
    queue_name = p.get("QueueName") or f"meshline-local-{name}"
    attributes = {
        key: json.dumps(value) if isinstance(value, dict) else str(value).lower() if isinstance(value, bool) else str(value)
        for key, value in p.items()
        if key in {"FifoQueue", "ContentBasedDeduplication", "VisibilityTimeout", "MessageRetentionPeriod",
                   "RedrivePolicy", "DelaySeconds", "ReceiveMessageWaitTimeSeconds", "SqsManagedSseEnabled"}
    }
    url = client("sqs").create_queue(QueueName=queue_name, Attributes=attributes)["QueueUrl"]
    return url, {"Arn": _arn("sqs", d.region, queue_name), "QueueName": queue_name, "QueueUrl": url}


def _table(name: str, p: dict[str, Any], d: Deployed) -> tuple[str, dict[str, str]]:
    dynamodb = client("dynamodb")
    request: dict[str, Any] = {
        "TableName": p.get("TableName") or f"meshline-local-{name}",
        "AttributeDefinitions": p["AttributeDefinitions"],
        "KeySchema": p["KeySchema"],
        "BillingMode": p.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if "StreamSpecification" in p:
        request["StreamSpecification"] = {"StreamEnabled": True, **p["StreamSpecification"]}
    for key in ("GlobalSecondaryIndexes", "DeletionProtectionEnabled"):
        if key in p:
            request[key] = p[key]
    if "SSESpecification" in p:  # CloudFormation says SSEEnabled where the API says Enabled
        request["SSESpecification"] = {"Enabled": bool(p["SSESpecification"].get("SSEEnabled"))}
    table = dynamodb.create_table(**request)["TableDescription"]
    if p.get("TimeToLiveSpecification", {}).get("Enabled"):
        dynamodb.update_time_to_live(TableName=table["TableName"], TimeToLiveSpecification=p["TimeToLiveSpecification"])
    attributes = {"Arn": table["TableArn"]}
    if "LatestStreamArn" in table:
        attributes["StreamArn"] = table["LatestStreamArn"]
    return table["TableName"], attributes


def _bucket(name: str, p: dict[str, Any], d: Deployed) -> tuple[str, dict[str, str]]:
    s3 = client("s3")
    bucket = p.get("BucketName") or f"meshline-local-{name.lower()}"
    request: dict[str, Any] = {"Bucket": bucket, "ObjectLockEnabledForBucket": bool(p.get("ObjectLockEnabled"))}
    if d.region != "us-east-1":
        request["CreateBucketConfiguration"] = {"LocationConstraint": d.region}
    s3.create_bucket(**request)
    if "VersioningConfiguration" in p:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": p["VersioningConfiguration"]["Status"]})
    lock = p.get("ObjectLockConfiguration")
    if lock and lock.get("Rule"):
        retention = dict(lock["Rule"]["DefaultRetention"])
        retention = {key: int(value) if key in {"Days", "Years"} else value for key, value in retention.items()}
        s3.put_object_lock_configuration(
            Bucket=bucket,
            ObjectLockConfiguration={"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": retention}},
        )
    if "BucketEncryption" in p:
        s3.put_bucket_encryption(
            Bucket=bucket, ServerSideEncryptionConfiguration={
                "Rules": [
                    {"ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"]}
                    for rule in p["BucketEncryption"]["ServerSideEncryptionConfiguration"]
                ]
            },
        )
    if "PublicAccessBlockConfiguration" in p:
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=p["PublicAccessBlockConfiguration"])
    if "OwnershipControls" in p:
        s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls=p["OwnershipControls"])
    return bucket, {"Arn": f"arn:aws:s3:::{bucket}", "DomainName": f"{bucket}.s3.amazonaws.com"}


def _bucket_policy(name: str, p: dict[str, Any], d: Deployed) -> tuple[str, dict[str, str]]:
    # moto evaluates bucket policies, and the local endpoint is plain HTTP: a statement that
    # denies insecure transport would deny everything here, so only that statement is left out.
    statements = [
        statement
        for statement in p["PolicyDocument"]["Statement"]
        if "aws:SecureTransport" not in json.dumps(statement.get("Condition", {}))
    ]
    if statements:
        client("s3").put_bucket_policy(Bucket=p["Bucket"], Policy=json.dumps({**p["PolicyDocument"], "Statement": statements}))
    return f"{p['Bucket']}-policy", {}


def _event_bus(name: str, p: dict[str, Any], d: Deployed) -> tuple[str, dict[str, str]]:
    arn = client("events").create_event_bus(Name=p["Name"])["EventBusArn"]
    return p["Name"], {"Arn": arn, "Name": p["Name"]}


def _log_group(name: str, p: dict[str, Any], d: Deployed) -> tuple[str, dict[str, str]]:
    logs = client("logs")
    group = p.get("LogGroupName") or f"/meshline/local/{name}"
    logs.create_log_group(logGroupName=group)
    if "RetentionInDays" in p:
        logs.put_retention_policy(logGroupName=group, retentionInDays=int(p["RetentionInDays"]))
    return group, {"Arn": _arn("logs", d.region, f"log-group:{group}:*")}


def _role(name: str, p: dict[str, Any], d: Deployed) -> tuple[str, dict[str, str]]:
    iam = client("iam")
    role_name = p.get("RoleName") or f"meshline-local-{name}"[:64]
    role = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(p["AssumeRolePolicyDocument"]))["Role"]
    # AWS-managed policies (basic execution, X-Ray, stream reading) are not loaded in moto;
    # the inline policies, which are the template's own least-privilege grants, are.
    for policy in p.get("Policies", []):
        # SAM's generated policies (e.g. for an on-failure destination) omit Version, which
        # IAM accepts and moto does not.
        document = {"Version": "2012-10-17", **policy["PolicyDocument"]}
        iam.put_role_policy(RoleName=role_name, PolicyName=policy["PolicyName"], PolicyDocument=json.dumps(document))
    for arn in p.get("ManagedPolicyArns", []):
        if f":iam::{ACCOUNT_ID}:policy/" in arn:  # the template's own managed policies
            iam.attach_role_policy(RoleName=role_name, PolicyArn=arn)
    return role_name, {"Arn": role["Arn"], "RoleId": role["RoleId"]}


def _managed_policy(name: str, p: dict[str, Any], d: Deployed) -> tuple[str, dict[str, str]]:
    policy_name = p.get("ManagedPolicyName") or f"meshline-local-{name}"
    created = client("iam").create_policy(
        PolicyName=policy_name, PolicyDocument=json.dumps(p["PolicyDocument"]), Description=p.get("Description", "")
    )["Policy"]
    return created["Arn"], {"PolicyArn": created["Arn"]}  # Ref of a managed policy is its ARN


def _layer(name: str, p: dict[str, Any], d: Deployed) -> tuple[str, dict[str, str]]:
    # The layer's code is the installed `meshline` package; nothing to create in moto.
    return _arn("lambda", d.region, f"layer:{p.get('LayerName', name)}:1"), {}


def _function(name: str, p: dict[str, Any], d: Deployed) -> tuple[str, dict[str, str]]:
    """Registered in moto (so `aws lambda` sees it, with its resolved environment); run by the local runtime."""
    code_dir = ROOT / sam_functions()[name]["CodeUri"]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as bundle:
        for path in sorted(code_dir.glob("*.py")):
            bundle.write(path, path.name)
    function_name = p.get("FunctionName") or f"meshline-local-{name}"
    configuration = client("lambda").create_function(
        FunctionName=function_name,
        Runtime=p.get("Runtime", "python3.13"),
        Role=p["Role"],
        Handler=p["Handler"],
        Code={"ZipFile": archive.getvalue()},
        Timeout=int(p.get("Timeout", 3)),
        MemorySize=int(p.get("MemorySize", 128)),
        Environment={"Variables": {k: str(v) for k, v in p.get("Environment", {}).get("Variables", {}).items()}},
        Architectures=p.get("Architectures", ["x86_64"]),
    )
    return function_name, {"Arn": configuration["FunctionArn"]}


def sam_state_machines(template_path: Path = TEMPLATE) -> dict[str, dict[str, Any]]:
    """The SAM state machines as written (DefinitionUri locates the ASL file on disk)."""
    from samtranslator.yaml_helper import yaml_parse

    template = yaml_parse(template_path.read_text())
    return {
        name: resource["Properties"]
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::StateMachine"
    }


def _state_machine(name: str, p: dict[str, Any], d: Deployed) -> tuple[str, dict[str, str]]:
    """moto's CloudFormation would leave a DefinitionUri state machine empty: render the
    template's ASL file with its DefinitionSubstitutions, as CloudFormation does, and
    create it through the Step Functions API. moto then runs its executions for real
    (its Step Functions engine is opt-in, switched on here for this server)."""
    import urllib.request

    from meshline_local.asl import render_definition

    endpoint = os.environ["AWS_ENDPOINT_URL"]
    urllib.request.urlopen(urllib.request.Request(
        f"{endpoint}/moto-api/config", data=json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode(),
        headers={"Content-Type": "application/json"}, method="POST",
    ))
    definition = render_definition(ROOT / sam_state_machines()[name]["DefinitionUri"], p.get("DefinitionSubstitutions", {}))
    machine_name = p.get("StateMachineName") or f"meshline-local-{name}"
    arn = client("stepfunctions").create_state_machine(name=machine_name, definition=definition, roleArn=p["RoleArn"])[
        "stateMachineArn"
    ]
    return arn, {"Arn": arn, "Name": machine_name}  # Ref of a state machine is its ARN


def _rule(name: str, p: dict[str, Any], d: Deployed) -> tuple[str, dict[str, str]]:
    """A pattern rule is created in moto, which delivers to its SQS targets for real. A
    schedule rule is not: moto would never fire it; the runtime's ScheduleSource plays it."""
    rule_name = p.get("Name") or f"meshline-local-{name}"
    bus = p.get("EventBusName", "default")
    arn = _arn("events", d.region, f"rule/{bus}/{rule_name}" if bus != "default" else f"rule/{rule_name}")
    if "ScheduleExpression" in p:
        return rule_name, {"Arn": arn}
    events = client("events")
    events.put_rule(Name=rule_name, EventBusName=bus, EventPattern=json.dumps(p["EventPattern"]),
                    Description=p.get("Description", ""))
    targets = [{"Id": target["Id"], "Arn": target["Arn"]} for target in p.get("Targets", [])]
    if any(":sqs:" not in target["Arn"] for target in targets):
        raise UnsupportedResource(f"{name}: the local stack delivers rules to SQS targets only")
    events.put_targets(Rule=rule_name, EventBusName=bus, Targets=targets)
    return rule_name, {"Arn": arn}


def _queue_policy(name: str, p: dict[str, Any], d: Deployed) -> tuple[str, dict[str, str]]:
    for url in p["Queues"]:
        client("sqs").set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(p["PolicyDocument"])})
    return f"local-{name}", {}


def _alarm(name: str, p: dict[str, Any], d: Deployed) -> tuple[str, dict[str, str]]:
    request = {key: p[key] for key in ("AlarmName", "AlarmDescription", "Namespace", "MetricName", "Dimensions", "Statistic",
                                       "ComparisonOperator", "TreatMissingData") if key in p}
    request.update(EvaluationPeriods=int(p["EvaluationPeriods"]), Threshold=float(p["Threshold"]))
    if "Period" in p:
        request["Period"] = int(p["Period"])
    if "Metrics" in p:  # metric math: CloudFormation's strings where the API wants numbers and booleans
        request["Metrics"] = [_metric_query(query) for query in p["Metrics"]]
    client("cloudwatch").put_metric_alarm(**request)
    return p["AlarmName"], {"Arn": _arn("cloudwatch", d.region, f"alarm:{p['AlarmName']}")}


def _metric_query(query: dict[str, Any]) -> dict[str, Any]:
    converted = dict(query)
    if "ReturnData" in converted:
        converted["ReturnData"] = str(converted["ReturnData"]).lower() == "true"
    if "MetricStat" in converted:
        converted["MetricStat"] = {**converted["MetricStat"], "Period": int(converted["MetricStat"]["Period"])}
    return converted


def _dashboard(name: str, p: dict[str, Any], d: Deployed) -> tuple[str, dict[str, str]]:
    json.loads(p["DashboardBody"])  # a body CloudWatch would refuse fails here too, with the line
    client("cloudwatch").put_dashboard(DashboardName=p["DashboardName"], DashboardBody=p["DashboardBody"])
    return p["DashboardName"], {}


def _usage_plan(name: str, p: dict[str, Any], d: Deployed) -> tuple[str, dict[str, str]]:
    """In moto, so that the credential store can add keys and the local gateway meter them."""
    request: dict[str, Any] = {
        "name": p.get("UsagePlanName", name),
        "description": p.get("Description", ""),
        "apiStages": [{"apiId": s["ApiId"], "stage": s["Stage"]} for s in p.get("ApiStages", [])],
    }
    if "Throttle" in p:
        request["throttle"] = {"rateLimit": float(p["Throttle"]["RateLimit"]), "burstLimit": int(p["Throttle"]["BurstLimit"])}
    if "Quota" in p:
        request["quota"] = {"limit": int(p["Quota"]["Limit"]), "period": p["Quota"]["Period"]}
    plan_id = client("apigateway").create_usage_plan(**request)["id"]
    return plan_id, {"Id": plan_id}


def _appconfig_application(name: str, p: dict[str, Any], d: Deployed) -> tuple[str, dict[str, str]]:
    app_id = client("appconfig").create_application(Name=p["Name"], Description=p.get("Description", ""))["Id"]
    return app_id, {"ApplicationId": app_id}


def _configuration_profile(name: str, p: dict[str, Any], d: Deployed) -> tuple[str, dict[str, str]]:
    from meshline_local.flags import json_schema

    for validator in p.get("Validators", []):
        if validator["Type"] == "JSON_SCHEMA":
            json_schema(validator["Content"])  # AppConfig would refuse a validator that is not draft-04 JSON Schema
    profile_id = client("appconfig").create_configuration_profile(
        ApplicationId=p["ApplicationId"], Name=p["Name"], Description=p.get("Description", ""), LocationUri=p["LocationUri"],
        Type=p.get("Type", "AWS.Freeform"), Validators=p.get("Validators", []),
    )["Id"]
    return profile_id, {"ConfigurationProfileId": profile_id}


def _hosted_configuration_version(name: str, p: dict[str, Any], d: Deployed) -> tuple[str, dict[str, str]]:
    from meshline_local.flags import create_version

    version = create_version(p["ApplicationId"], p["ConfigurationProfileId"], p["Content"], p.get("Description", name),
                             p["ContentType"])
    return str(version), {"VersionNumber": str(version)}


_CREATORS = {
    "AWS::AppConfig::Application": _appconfig_application,
    "AWS::AppConfig::ConfigurationProfile": _configuration_profile,
    "AWS::AppConfig::HostedConfigurationVersion": _hosted_configuration_version,
    "AWS::ApiGateway::UsagePlan": _usage_plan,
    "AWS::SQS::Queue": _queue,
    "AWS::DynamoDB::Table": _table,
    "AWS::S3::Bucket": _bucket,
    "AWS::S3::BucketPolicy": _bucket_policy,
    "AWS::Events::EventBus": _event_bus,
    "AWS::Logs::LogGroup": _log_group,
    "AWS::IAM::Role": _role,
    "AWS::IAM::ManagedPolicy": _managed_policy,
    "AWS::Lambda::LayerVersion": _layer,
    "AWS::Lambda::Function": _function,
    "AWS::CloudWatch::Alarm": _alarm,
    "AWS::CloudWatch::Dashboard": _dashboard,
    "AWS::StepFunctions::StateMachine": _state_machine,
    "AWS::Events::Rule": _rule,
    "AWS::SQS::QueuePolicy": _queue_policy,
}
