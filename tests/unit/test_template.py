"""template.yaml invariants (DESIGN §1, §2, §7): runtime, layer, queues, tables, functions, IAM, alarms."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from relay.local.template import load_template
from tests.support import ROOT

TEMPLATE = load_template(ROOT / "template.yaml")


def test_functions_run_python313_on_arm64():
    # GIVEN the template's Globals
    function = TEMPLATE["Globals"]["Function"]
    # THEN every function defaults to python3.13 on arm64 with the core layer
    assert function["Runtime"] == "python3.13"
    assert function["Architectures"] == ["arm64"]
    assert {"Ref": "CoreLayer"} in function["Layers"]


def test_core_layer_is_built_from_layers_core_with_compiled_bytecode():
    # GIVEN the shared layer and its Makefile
    layer = TEMPLATE["Resources"]["CoreLayer"]
    makefile = (ROOT / "layers" / "core" / "Makefile").read_text()
    # THEN SAM builds it from layers/core with the makefile method, for python3.13 on arm64
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Properties"]["ContentUri"] == "layers/core/"
    assert layer["Metadata"] == {"BuildMethod": "makefile", "BuildArchitecture": "arm64"}
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    assert (ROOT / "layers" / "core" / "requirements.txt").is_file()
    # AND the target installs arm64 cp313 wheels and compiles hash-based bytecode with CPython 3.13
    assert "build-CoreLayer:" in makefile
    assert (
        "--platform manylinux2014_aarch64 --implementation cp --python-version 3.13 --only-binary=:all:"
        in makefile
    )
    assert "-m compileall -q -j 0 --invalidation-mode unchecked-hash" in makefile
    assert "sys.version_info[:2] == (3, 13)" in makefile


# ---- queues, tables, functions, alarms (DESIGN §1, §7) --------------------------------------------

RESOURCES = TEMPLATE["Resources"]
PARAMETERS = TEMPLATE["Parameters"]


def props(name: str) -> dict[str, Any]:
    properties: dict[str, Any] = RESOURCES[name]["Properties"]
    return properties


def statements(name: str) -> list[dict[str, Any]]:
    """Every statement of the inline policies of function `name` (SAM Policies)."""
    found: list[dict[str, Any]] = []
    for policy in props(name)["Policies"]:
        found.extend(policy["Statement"])
    return found


def grants(name: str) -> dict[str, set[str]]:
    """action → resources (as text) over function `name`'s inline policies."""
    out: dict[str, set[str]] = {}
    for statement in statements(name):
        assert statement["Effect"] == "Allow"
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        for action in actions:
            out.setdefault(action, set()).update(_text(r) for r in resources)
    return out


def _text(resource: Any) -> str:
    if isinstance(resource, str):
        return resource
    if "Fn::GetAtt" in resource:
        return ".".join(resource["Fn::GetAtt"])
    if "Fn::Sub" in resource:
        return str(resource["Fn::Sub"])
    if "Ref" in resource:
        return f"Ref:{resource['Ref']}"
    raise AssertionError(f"unexpected resource form {resource}")


def policy_documents() -> Iterator[tuple[str, dict[str, Any]]]:
    """(resource name, policy document) for every IAM / resource policy the template writes."""
    for name, resource in RESOURCES.items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function":
            for policy in properties.get("Policies", []):
                yield name, policy
        for key in ("KeyPolicy", "PolicyDocument"):
            if key in properties:
                yield name, properties[key]


def test_every_function_policy_is_an_inline_statement_list():
    # GIVEN the functions / THEN no managed policy or broad SAM policy template is attached by name
    functions = [n for n, r in RESOURCES.items() if r["Type"] == "AWS::Serverless::Function"]
    assert sorted(functions) == ["DeliverFunction", "RedriveFunction"]
    for name in functions:
        for policy in props(name)["Policies"]:
            assert isinstance(policy, dict)
            assert set(policy) == {"Version", "Statement"}


def test_events_queue_is_encrypted_and_dead_letters_after_max_receive_count():
    # GIVEN the events queue
    queue = props("EventsQueue")
    # THEN it is encrypted, keeps messages 4 days and hands them to the DLQ after MaxReceiveCount receives
    assert queue["SqsManagedSseEnabled"] is True
    assert queue["MessageRetentionPeriod"] == 4 * 24 * 3600
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]},
        "maxReceiveCount": {"Ref": "MaxReceiveCount"},
    }


def test_visibility_timeout_is_at_least_six_times_the_deliver_timeout():
    # GIVEN the queue's visibility timeout and the deliver function's timeout
    visibility = props("EventsQueue")["VisibilityTimeout"]
    timeout = props("DeliverFunction")["Timeout"]
    # THEN visibility >= 6 x timeout (AWS's advice for SQS event sources)
    assert timeout == 60
    assert visibility >= 6 * timeout


def test_max_receive_count_is_at_least_three():
    # GIVEN the MaxReceiveCount parameter
    parameter = PARAMETERS["MaxReceiveCount"]
    # THEN neither its default nor any allowed value is below 3
    assert parameter["Type"] == "Number"
    assert parameter["MinValue"] >= 3
    assert parameter["Default"] >= parameter["MinValue"]
    assert parameter["MaxValue"] <= 1000  # SQS's limit


def test_dead_letter_queue_keeps_messages_14_days_and_accepts_only_the_events_queue():
    # GIVEN the DLQ
    dlq = props("DeadLetterQueue")
    # THEN it is encrypted and keeps messages 14 days (longer than the events queue)
    assert dlq["SqsManagedSseEnabled"] is True
    assert dlq["MessageRetentionPeriod"] == 1209600
    assert dlq["MessageRetentionPeriod"] > props("EventsQueue")["MessageRetentionPeriod"]
    # AND only the events queue may use it as its dead-letter queue (its ARN built from its name)
    allow = dlq["RedriveAllowPolicy"]
    assert allow["redrivePermission"] == "byQueue"
    (source,) = allow["sourceQueueArns"]
    queue_name = props("EventsQueue")["QueueName"]["Fn::Sub"]
    assert source["Fn::Sub"] == "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:" + queue_name


def test_deliver_function_reads_the_events_queue_in_batches_with_partial_failures():
    # GIVEN the deliver function
    function = props("DeliverFunction")
    (event,) = function["Events"].values()
    # THEN it is fed by the events queue with the three tuning parameters and partial batch responses
    assert function["CodeUri"] == "functions/deliver/"
    assert function["Handler"] == "app.handler"
    assert "ReservedConcurrentExecutions" not in function
    assert event["Type"] == "SQS"
    source = event["Properties"]
    assert source["Queue"] == {"Fn::GetAtt": ["EventsQueue", "Arn"]}
    assert source["BatchSize"] == {"Ref": "DeliverBatchSize"}
    assert source["MaximumBatchingWindowInSeconds"] == {"Ref": "DeliverBatchWindowSeconds"}
    assert source["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "DeliverMaxConcurrency"}}
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


@pytest.mark.parametrize(
    ("name", "default", "low", "high"),
    [
        ("DeliverBatchSize", 1000, 1, 10000),
        ("DeliverBatchWindowSeconds", 5, 0, 300),
        ("DeliverMaxConcurrency", 5, 2, 1000),
    ],
)
def test_deliver_tuning_parameters_have_aws_bounds(name: str, default: int, low: int, high: int):
    # GIVEN a tuning parameter / THEN its default and bounds are those of the SQS event source
    parameter = PARAMETERS[name]
    assert (parameter["Type"], parameter["Default"], parameter["MinValue"], parameter["MaxValue"]) == (
        "Number",
        default,
        low,
        high,
    )


def test_batches_above_ten_need_a_batching_window():
    # GIVEN the template's rules
    rule = TEMPLATE["Rules"]["DeliverBatching"]
    # THEN a zero window only allows batch sizes 1..10 (SQS event source constraint)
    assert rule["RuleCondition"] == {"Fn::Equals": [{"Ref": "DeliverBatchWindowSeconds"}, "0"]}
    (assertion,) = rule["Assertions"]
    allowed, ref = assertion["Assert"]["Fn::Contains"]
    assert allowed == [str(n) for n in range(1, 11)]
    assert ref == {"Ref": "DeliverBatchSize"}


def test_deliver_environment_names_every_resource_it_uses():
    # GIVEN the deliver function's environment (on top of Globals)
    variables = props("DeliverFunction")["Environment"]["Variables"]
    # THEN it carries the queues, tables, token prefix and receive limit
    assert variables == {
        "DLQ_URL": {"Ref": "DeadLetterQueue"},
        "INTEGRATIONS_TABLE": {"Ref": "IntegrationsTable"},
        "LEDGER_TABLE": {"Ref": "LedgerTable"},
        "DEBUGGER_TABLE": {"Ref": "DebuggerTable"},
        "TOKEN_SECRET_PREFIX": {"Fn::Sub": "relay/${Stage}/integrations/"},
        "MAX_RECEIVE_COUNT": {"Ref": "MaxReceiveCount"},
    }


@pytest.mark.parametrize("table", ["IntegrationsTable", "LedgerTable", "DebuggerTable"])
def test_tables_are_on_demand_and_encrypted(table: str):
    # GIVEN a table / THEN it is billed per request and encrypted at rest
    properties = props(table)
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["SSESpecification"] == {"SSEEnabled": True}


def test_integrations_table_keys_index_and_recovery():
    # GIVEN the integrations table
    table = props("IntegrationsTable")
    # THEN it is keyed by id, indexed by source_id (all attributes projected) and has PITR
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert {(a["AttributeName"], a["AttributeType"]) for a in table["AttributeDefinitions"]} == {
        ("id", "S"),
        ("source_id", "S"),
    }
    (index,) = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "by_source"
    assert index["KeySchema"] == [{"AttributeName": "source_id", "KeyType": "HASH"}]
    assert index["Projection"] == {"ProjectionType": "ALL"}
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert RESOURCES["IntegrationsTable"]["DeletionPolicy"] == "Retain"


def test_ledger_and_debugger_tables_keys_and_ttl():
    # GIVEN the ledger and debugger tables
    ledger, debugger = props("LedgerTable"), props("DebuggerTable")
    # THEN the ledger is keyed by key, the debugger by integration_id + recorded_at; both expire records
    assert ledger["KeySchema"] == [{"AttributeName": "key", "KeyType": "HASH"}]
    assert ledger["AttributeDefinitions"] == [{"AttributeName": "key", "AttributeType": "S"}]
    assert debugger["KeySchema"] == [
        {"AttributeName": "integration_id", "KeyType": "HASH"},
        {"AttributeName": "recorded_at", "KeyType": "RANGE"},
    ]
    assert {(a["AttributeName"], a["AttributeType"]) for a in debugger["AttributeDefinitions"]} == {
        ("integration_id", "S"),
        ("recorded_at", "S"),
    }
    for table in (ledger, debugger):
        assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def test_deliver_function_is_granted_exactly_what_it_uses():
    # GIVEN the deliver function's inline policies
    granted = grants("DeliverFunction")
    # THEN each action is granted on named resources only
    secret = "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:relay/${Stage}/integrations/*"
    assert granted == {
        "dynamodb:BatchGetItem": {"LedgerTable.Arn"},
        "dynamodb:Query": {"${IntegrationsTable.Arn}/index/by_source"},
        "dynamodb:BatchWriteItem": {"LedgerTable.Arn", "DebuggerTable.Arn"},
        "sqs:SendMessage": {"DeadLetterQueue.Arn"},
        "secretsmanager:GetSecretValue": {secret},
    }


def test_secrets_are_readable_by_name_prefix_only():
    # GIVEN every statement of the template that mentions Secrets Manager
    found = [
        (name, statement)
        for name, document in policy_documents()
        for statement in document["Statement"]
        if "secretsmanager" in json.dumps(statement["Action"])
    ]
    # THEN only the deliver function may read secrets, only GetSecretValue, only under the token prefix
    assert [name for name, _ in found] == ["DeliverFunction"]
    (_, statement) = found[0]
    assert statement["Action"] == ["secretsmanager:GetSecretValue"]
    prefix = props("DeliverFunction")["Environment"]["Variables"]["TOKEN_SECRET_PREFIX"]["Fn::Sub"]
    arn = statement["Resource"]["Fn::Sub"]
    assert (
        arn == f"arn:${{AWS::Partition}}:secretsmanager:${{AWS::Region}}:${{AWS::AccountId}}:secret:{prefix}*"
    )


def test_no_wildcard_resource_except_where_unavoidable():
    # GIVEN every statement of every policy the template writes
    wildcards = {
        (name, statement.get("Sid"), _text(resource))
        for name, document in policy_documents()
        for statement in document["Statement"]
        for resource in (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        if "*" in _text(resource)
    }
    # THEN the only wildcards are the token name prefix (secret names are per integration, with a random
    # suffix) and the alarm key's own policy, where "*" means "this key"
    assert wildcards == {
        (
            "DeliverFunction",
            "IntegrationTokens",
            "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:relay/${Stage}/integrations/*",
        ),
        ("AlarmTopicKey", "AccountAdministers", "*"),
        ("AlarmTopicKey", "CloudWatchAlarmsPublish", "*"),
    }
    # AND no function is granted a wildcard action
    for name in ("DeliverFunction", "RedriveFunction"):
        assert not any("*" in action for action in grants(name))


def test_redrive_function_moves_dlq_messages_on_demand_only():
    # GIVEN the redrive function
    function = props("RedriveFunction")
    # THEN it has no event source, 5 minutes, both queue URLs, and only the queue actions it uses
    assert function["CodeUri"] == "functions/redrive/"
    assert function["Handler"] == "app.handler"
    assert function["Timeout"] == 300
    assert "Events" not in function
    assert function["Environment"]["Variables"] == {
        "EVENTS_QUEUE_URL": {"Ref": "EventsQueue"},
        "DLQ_URL": {"Ref": "DeadLetterQueue"},
    }
    assert grants("RedriveFunction") == {
        "sqs:ReceiveMessage": {"DeadLetterQueue.Arn"},
        "sqs:DeleteMessage": {"DeadLetterQueue.Arn"},
        "sqs:GetQueueAttributes": {"DeadLetterQueue.Arn"},
        "sqs:ChangeMessageVisibility": {"DeadLetterQueue.Arn"},
        "sqs:SendMessage": {"EventsQueue.Arn"},
    }
    assert (ROOT / "functions" / "redrive" / "app.py").is_file()
    assert (ROOT / "events" / "redrive.json").is_file()


ALARMS = ("DlqNotEmptyAlarm", "AuthFailuresAlarm", "DeliveryErrorRateAlarm")


@pytest.mark.parametrize("alarm", ALARMS)
def test_alarms_notify_the_alarm_topic(alarm: str):
    # GIVEN an alarm / THEN it notifies the alarm topic and stays quiet without data
    assert RESOURCES[alarm]["Type"] == "AWS::CloudWatch::Alarm"
    properties = props(alarm)
    assert {"Ref": "AlarmTopic"} in properties["AlarmActions"]
    assert properties["TreatMissingData"] == "notBreaching"


def test_dlq_alarm_fires_on_any_visible_message():
    # GIVEN the DLQ alarm / THEN it watches the DLQ's visible messages, > 0
    alarm = props("DlqNotEmptyAlarm")
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["DeadLetterQueue", "QueueName"]}}
    ]
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")


def test_auth_failures_alarm_fires_on_one_failure_in_five_minutes():
    # GIVEN the auth alarm / THEN Relay's AuthFailures (service=relay) summed over 5 min, >= 1
    alarm = props("AuthFailuresAlarm")
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == ("Relay", "AuthFailures", "Sum")
    assert alarm["Dimensions"] == [{"Name": "service", "Value": "relay"}]
    assert alarm["Period"] * alarm["EvaluationPeriods"] == 300
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")


def test_error_rate_alarm_is_dead_lettered_over_handled_above_five_percent():
    # GIVEN the error-rate alarm's metric math
    alarm = props("DeliveryErrorRateAlarm")
    metrics = {m["Id"]: m for m in alarm["Metrics"]}
    # THEN it divides DeadLettered by Delivered + DeadLettered (namespace Relay, service=relay)
    for metric_id, name in (("errors", "DeadLettered"), ("delivered", "Delivered")):
        stat = metrics[metric_id]["MetricStat"]
        assert stat["Metric"] == {
            "Namespace": "Relay",
            "MetricName": name,
            "Dimensions": [{"Name": "service", "Value": "relay"}],
        }
        assert (stat["Stat"], stat["Period"]) == ("Sum", 300)
        assert metrics[metric_id]["ReturnData"] is False
    (rate,) = [m for m in alarm["Metrics"] if m.get("ReturnData")]
    expression = " ".join(rate["Expression"].split())
    assert "100 * FILL(errors, 0) / (FILL(delivered, 0) + FILL(errors, 0))" in expression
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (5, "GreaterThanThreshold")


def test_alarm_topic_is_encrypted_with_a_key_cloudwatch_may_use():
    # GIVEN the alarm topic, its key and its policy
    topic, key = props("AlarmTopic"), props("AlarmTopicKey")
    # THEN the topic uses its own key (CloudWatch cannot use alias/aws/sns), which CloudWatch may use
    assert topic["KmsMasterKeyId"] == {"Ref": "AlarmTopicKey"}
    assert key["EnableKeyRotation"] is True
    cloudwatch = [
        s for s in key["KeyPolicy"]["Statement"] if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert [sorted(s["Action"]) for s in cloudwatch] == [["kms:Decrypt", "kms:GenerateDataKey*"]]
    (publish,) = props("AlarmTopicPolicy")["PolicyDocument"]["Statement"]
    assert publish["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert (publish["Action"], publish["Resource"]) == ("sns:Publish", {"Ref": "AlarmTopic"})


def test_alarm_email_is_subscribed_only_when_set():
    # GIVEN the AlarmEmail parameter and the subscription
    assert PARAMETERS["AlarmEmail"]["Default"] == ""
    subscription = RESOURCES["AlarmEmailSubscription"]
    # THEN the subscription exists only under HasAlarmEmail (AlarmEmail not empty)
    assert subscription["Condition"] == "HasAlarmEmail"
    assert TEMPLATE["Conditions"]["HasAlarmEmail"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]
    }
    assert subscription["Properties"] == {
        "TopicArn": {"Ref": "AlarmTopic"},
        "Protocol": "email",
        "Endpoint": {"Ref": "AlarmEmail"},
    }


def test_outputs_name_the_stack_resources():
    # GIVEN the outputs / THEN each names its resource
    outputs = TEMPLATE["Outputs"]
    expected = {
        "CoreLayerArn": "CoreLayer",
        "EventsQueueUrl": "EventsQueue",
        "DeadLetterQueueUrl": "DeadLetterQueue",
        "IntegrationsTableName": "IntegrationsTable",
        "LedgerTableName": "LedgerTable",
        "DebuggerTableName": "DebuggerTable",
        "DeliverFunctionName": "DeliverFunction",
        "RedriveFunctionName": "RedriveFunction",
        "AlarmTopicArn": "AlarmTopic",
    }
    assert {name: output["Value"] for name, output in outputs.items()} == {
        name: {"Ref": resource} for name, resource in expected.items()
    }


def _references(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        if "Ref" in value:
            yield value["Ref"]
        elif "Fn::GetAtt" in value:
            yield value["Fn::GetAtt"][0]
        elif "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):
            for name in re.findall(r"\$\{([^}!]+)\}", value["Fn::Sub"]):
                yield name.split(".")[0]
        for item in value.values():
            yield from _references(item)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)


def test_every_reference_names_a_parameter_or_resource():
    # GIVEN every Ref / GetAtt / Sub variable of the template
    known = set(PARAMETERS) | set(RESOURCES)
    # THEN each names a parameter, a resource or a pseudo parameter
    unknown = {
        name
        for name in _references({k: v for k, v in TEMPLATE.items() if k != "Parameters"})
        if name not in known and not name.startswith("AWS::")
    }
    assert unknown == set()


def test_tracing_is_off_by_default_and_switched_by_one_parameter():
    # GIVEN the template's Globals and parameters
    function = TEMPLATE["Globals"]["Function"]
    variables = function["Environment"]["Variables"]
    # THEN X-Ray is a parameter, off by default, and Powertools is told the same
    assert TEMPLATE["Parameters"]["Tracing"]["Default"] == "PassThrough"
    assert TEMPLATE["Parameters"]["Tracing"]["AllowedValues"] == ["Active", "PassThrough"]
    assert function["Tracing"] == {"Ref": "Tracing"}
    assert variables["POWERTOOLS_TRACE_DISABLED"] == {"Fn::If": ["TracingActive", "false", "true"]}
    assert TEMPLATE["Conditions"]["TracingActive"] == {"Fn::Equals": [{"Ref": "Tracing"}, "Active"]}
    # AND pydantic's plugin scan (entry points over the whole layer) is skipped
    assert variables["PYDANTIC_DISABLE_PLUGINS"] == "__all__"
