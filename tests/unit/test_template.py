"""template.yaml invariants (DESIGN §1, §2, §7): runtime, layer, queues, tables, functions, IAM, alarms."""

from __future__ import annotations

import copy
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
    assert sorted(functions) == ["AdminFunction", "CollectFunction", "DeliverFunction", "RedriveFunction"]
    for name in functions:
        for policy in props(name)["Policies"]:
            assert isinstance(policy, dict)
            assert set(policy) == {"Version", "Statement"}


DAY = 24 * 3600
META_MAX_EVENT_AGE_S = 7 * DAY  # Meta refuses an event_time more than 7 days old (meta-capi-reference §2)


def test_events_queue_is_encrypted_and_dead_letters_after_max_receive_count():
    # GIVEN the events queue
    queue = props("EventsQueue")
    # THEN it is encrypted, keeps messages 8 days (Meta's 7-day age limit and a day) and hands them to
    # the DLQ after MaxReceiveCount receives
    assert queue["SqsManagedSseEnabled"] is True
    assert queue["MessageRetentionPeriod"] == 8 * DAY
    assert queue["MessageRetentionPeriod"] > META_MAX_EVENT_AGE_S
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


def test_dead_letter_queue_keeps_messages_dlq_retention_days_and_accepts_only_the_events_queue():
    # GIVEN the DLQ
    dlq = props("DeadLetterQueue")
    # THEN it is encrypted and keeps messages DlqRetentionDays, in seconds through the DaysInSeconds map
    assert dlq["SqsManagedSseEnabled"] is True
    assert dlq["MessageRetentionPeriod"] == {
        "Fn::FindInMap": ["DaysInSeconds", {"Ref": "DlqRetentionDays"}, "Seconds"]
    }
    # AND only the events queue may use it as its dead-letter queue (its ARN built from its name)
    allow = dlq["RedriveAllowPolicy"]
    assert allow["redrivePermission"] == "byQueue"
    (source,) = allow["sourceQueueArns"]
    queue_name = props("EventsQueue")["QueueName"]["Fn::Sub"]
    assert source["Fn::Sub"] == "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:" + queue_name


def test_deliver_function_reads_the_events_queue_in_batches_with_partial_failures():
    # GIVEN the deliver function and the template's event source mappings
    function = props("DeliverFunction")
    mappings = [n for n, r in RESOURCES.items() if r["Type"] == "AWS::Lambda::EventSourceMapping"]
    # THEN one explicit mapping feeds it from the events queue with the three tuning parameters and
    # partial batch responses, under the logical id SAM gave the former `Events: Queue` (so an existing
    # stack updates that mapping in place), once its role exists
    assert function["CodeUri"] == "functions/deliver/"
    assert function["Handler"] == "app.handler"
    assert "ReservedConcurrentExecutions" not in function
    assert "Events" not in function  # a SAM SQS event would attach AWSLambdaSQSQueueExecutionRole
    assert mappings == ["DeliverFunctionQueue"]
    assert RESOURCES["DeliverFunctionQueue"]["DependsOn"] == "DeliverFunctionRole"
    assert props("DeliverFunctionQueue") == {
        "EventSourceArn": {"Fn::GetAtt": ["EventsQueue", "Arn"]},
        "FunctionName": {"Ref": "DeliverFunction"},
        "BatchSize": {"Ref": "DeliverBatchSize"},
        "MaximumBatchingWindowInSeconds": {"Ref": "DeliverBatchWindowSeconds"},
        "ScalingConfig": {"MaximumConcurrency": {"Ref": "DeliverMaxConcurrency"}},
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
    }


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
        "PROFILES_TABLE": {"Ref": "ProfilesTable"},
        "STATS_TABLE": {"Ref": "StatsTable"},
        "TOKEN_SECRET_PREFIX": {"Fn::Sub": "relay/${Stage}/integrations/"},
        "MAX_RECEIVE_COUNT": {"Ref": "MaxReceiveCount"},
    }


@pytest.mark.parametrize(
    "table",
    ["IntegrationsTable", "SourcesTable", "LedgerTable", "DebuggerTable", "ProfilesTable", "StatsTable"],
)
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
        "sqs:ReceiveMessage": {"EventsQueue.Arn"},
        "sqs:DeleteMessage": {"EventsQueue.Arn"},
        "sqs:GetQueueAttributes": {"EventsQueue.Arn"},
        "dynamodb:BatchGetItem": {"LedgerTable.Arn", "ProfilesTable.Arn"},
        "dynamodb:Query": {"${IntegrationsTable.Arn}/index/by_source"},
        "dynamodb:BatchWriteItem": {"LedgerTable.Arn", "DebuggerTable.Arn"},
        "dynamodb:UpdateItem": {"StatsTable.Arn"},
        "sqs:SendMessage": {"DeadLetterQueue.Arn"},
        "secretsmanager:GetSecretValue": {secret},
    }


def test_secrets_are_reached_by_name_prefix_or_by_their_own_arn_only():
    # GIVEN every statement of the template that mentions Secrets Manager
    found = [
        (name, statement)
        for name, document in policy_documents()
        for statement in document["Statement"]
        if "secretsmanager" in json.dumps(statement["Action"])
    ]
    # THEN the deliver function reads access tokens (GetSecretValue under the token prefix), the admin
    # function writes them there (and reads one only to call Meta for a test event or a health check)
    # and reads the admin token's own secret
    prefix = props("DeliverFunction")["Environment"]["Variables"]["TOKEN_SECRET_PREFIX"]["Fn::Sub"]
    assert props("AdminFunction")["Environment"]["Variables"]["TOKEN_SECRET_PREFIX"]["Fn::Sub"] == prefix
    tokens = f"arn:${{AWS::Partition}}:secretsmanager:${{AWS::Region}}:${{AWS::AccountId}}:secret:{prefix}*"
    assert sorted((name, statement["Sid"], _text(statement["Resource"])) for name, statement in found) == [
        ("AdminFunction", "AdminToken", "Ref:AdminTokenSecret"),
        ("AdminFunction", "IntegrationTokens", tokens),
        ("DeliverFunction", "IntegrationTokens", tokens),
    ]
    actions = {(name, statement["Sid"]): statement["Action"] for name, statement in found}
    assert actions[("DeliverFunction", "IntegrationTokens")] == ["secretsmanager:GetSecretValue"]
    assert actions[("AdminFunction", "AdminToken")] == ["secretsmanager:GetSecretValue"]
    assert sorted(actions[("AdminFunction", "IntegrationTokens")]) == [
        "secretsmanager:CreateSecret",
        "secretsmanager:DeleteSecret",
        "secretsmanager:GetSecretValue",
        "secretsmanager:PutSecretValue",
        "secretsmanager:RestoreSecret",
    ]


def test_admin_function_is_granted_exactly_what_it_uses():
    # GIVEN the admin function's inline policies
    granted = grants("AdminFunction")
    secret = "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:relay/${Stage}/integrations/*"
    # THEN integrations CRUD on the table (Query on its index), the newest debugger record, token writes
    # (and reads for test events and health), the admin token, the redrive
    assert granted == {
        "dynamodb:GetItem": {"IntegrationsTable.Arn", "SourcesTable.Arn"},
        "dynamodb:PutItem": {"IntegrationsTable.Arn", "SourcesTable.Arn"},
        "dynamodb:DeleteItem": {"IntegrationsTable.Arn", "SourcesTable.Arn"},
        "dynamodb:Scan": {"IntegrationsTable.Arn", "SourcesTable.Arn"},
        "dynamodb:Query": {"${IntegrationsTable.Arn}/index/by_source", "DebuggerTable.Arn", "StatsTable.Arn"},
        "secretsmanager:CreateSecret": {secret},
        "secretsmanager:PutSecretValue": {secret},
        "secretsmanager:RestoreSecret": {secret},
        "secretsmanager:DeleteSecret": {secret},
        "secretsmanager:GetSecretValue": {"Ref:AdminTokenSecret", secret},
        "sqs:ReceiveMessage": {"DeadLetterQueue.Arn"},
        "sqs:DeleteMessage": {"DeadLetterQueue.Arn"},
        "sqs:GetQueueAttributes": {"DeadLetterQueue.Arn"},
        "sqs:ChangeMessageVisibility": {"DeadLetterQueue.Arn"},
        "sqs:SendMessage": {"EventsQueue.Arn"},
    }


def test_admin_api_is_an_http_api_with_throttling_and_access_logs_without_bodies():
    # GIVEN the HTTP API and the admin function's event
    api = props("AdminApi")
    event = props("AdminFunction")["Events"]["Admin"]
    # THEN it is an HTTP API throttled by parameters, logging to its own group, fields without bodies
    assert RESOURCES["AdminApi"]["Type"] == "AWS::Serverless::HttpApi"
    assert api["DefaultRouteSettings"] == {
        "ThrottlingBurstLimit": {"Ref": "AdminThrottleBurst"},
        "ThrottlingRateLimit": {"Ref": "AdminThrottleRate"},
    }
    assert api["AccessLogSettings"]["DestinationArn"] == {"Fn::GetAtt": ["AdminApiAccessLogGroup", "Arn"]}
    fields = json.loads(api["AccessLogSettings"]["Format"])
    assert not {"body", "requestBody", "headers", "query"} & set(fields)
    assert not any(word in value for value in fields.values() for word in ("body", "header", "querystring"))
    assert event == {
        "Type": "HttpApi",
        "Properties": {"ApiId": {"Ref": "AdminApi"}, "Path": "/v1/admin/{proxy+}", "Method": "ANY"},
    }
    # AND the admin token is generated by CloudFormation (no value in the template or a parameter)
    secret = props("AdminTokenSecret")
    assert "SecretString" not in secret
    assert secret["GenerateSecretString"]["PasswordLength"] >= 32
    assert props("AdminFunction")["Environment"]["Variables"]["ADMIN_TOKEN_SECRET"] == {
        "Ref": "AdminTokenSecret"
    }


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
        (
            "AdminFunction",
            "IntegrationTokens",
            "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:relay/${Stage}/integrations/*",
        ),
        ("AlarmTopicKey", "AccountAdministers", "*"),
        ("AlarmTopicKey", "CloudWatchAlarmsPublish", "*"),
    }
    # AND no function is granted a wildcard action
    for name in ("AdminFunction", "DeliverFunction", "RedriveFunction"):
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


ALARMS = (
    "DlqNotEmptyAlarm",
    "AuthFailuresAlarm",
    "DeliveryErrorRateAlarm",
    "EventsQueueStalledAlarm",
    "DeliverErrorsAlarm",
    "DeliverThrottlesAlarm",
    "DeliverDurationAlarm",
    "CollectorErrorsAlarm",
)


def test_collector_errors_alarm_watches_the_collect_apis_5xx():
    # GIVEN the collector's alarm / THEN any 5xx answer of CollectApi in 5 minutes raises it
    alarm = props("CollectorErrorsAlarm")
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == ("AWS/ApiGateway", "5xx", "Sum")
    assert alarm["Dimensions"] == [
        {"Name": "ApiId", "Value": {"Ref": "CollectApi"}},
        {"Name": "Stage", "Value": "$default"},
    ]
    assert (alarm["Period"], alarm["Threshold"], alarm["ComparisonOperator"]) == (
        300,
        0,
        "GreaterThanThreshold",
    )


def test_the_alarms_are_exactly_these():
    # GIVEN the template's alarms / THEN they are the ones the tests below (and the runbook) describe
    assert sorted(n for n, r in RESOURCES.items() if r["Type"] == "AWS::CloudWatch::Alarm") == sorted(ALARMS)


@pytest.mark.parametrize("alarm", ALARMS)
def test_alarms_notify_the_alarm_topic(alarm: str):
    # GIVEN an alarm / THEN it notifies the alarm topic when it fires and when it clears, and stays
    # quiet without data
    assert RESOURCES[alarm]["Type"] == "AWS::CloudWatch::Alarm"
    properties = props(alarm)
    assert properties["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    assert properties["OKActions"] == [{"Ref": "AlarmTopic"}]
    assert properties["TreatMissingData"] == "notBreaching"


@pytest.mark.parametrize("alarm", ALARMS)
def test_the_runbook_says_what_each_alarm_means(alarm: str):
    # GIVEN the runbook's alarm table / THEN each alarm has a row naming it
    runbook = (ROOT / "docs" / "runbook.md").read_text(encoding="utf-8")
    assert re.search(rf"^\| `{alarm}` \|[^|]+\|[^|]+\|$", runbook, re.MULTILINE)


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


def test_admin_function_serves_the_console_without_any_other_route_or_grant():
    # GIVEN the admin function's HTTP API events and its environment
    events = props("AdminFunction")["Events"]
    variables = props("AdminFunction")["Environment"]["Variables"]
    # THEN the console's page and files are GET routes of the same API (nothing else is added)
    assert {name: e["Properties"] for name, e in events.items() if name != "Admin"} == {
        "Console": {"ApiId": {"Ref": "AdminApi"}, "Path": "/console", "Method": "GET"},
        "ConsoleFiles": {"ApiId": {"Ref": "AdminApi"}, "Path": "/console/{proxy+}", "Method": "GET"},
    }
    # AND the console learns the collector's URL: the custom domain when there is one, else the API's
    assert variables["COLLECTOR_URL"] == {
        "Fn::If": [
            "HasCollectorDomain",
            {"Fn::Sub": "https://${CollectorDomainName}"},
            {"Fn::Sub": "https://${CollectApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"},
        ]
    }
    assert variables["STATS_TABLE"] == {"Ref": "StatsTable"}


def test_outputs_name_the_stack_resources():
    # GIVEN the outputs / THEN each names its resource
    outputs = TEMPLATE["Outputs"]
    expected = {
        "CoreLayerArn": "CoreLayer",
        "EventsQueueUrl": "EventsQueue",
        "DeadLetterQueueUrl": "DeadLetterQueue",
        "IntegrationsTableName": "IntegrationsTable",
        "SourcesTableName": "SourcesTable",
        "LedgerTableName": "LedgerTable",
        "DebuggerTableName": "DebuggerTable",
        "ProfilesTableName": "ProfilesTable",
        "StatsTableName": "StatsTable",
        "CollectFunctionName": "CollectFunction",
        "CollectLogGroupName": "CollectLogGroup",
        "DeliverFunctionName": "DeliverFunction",
        "RedriveFunctionName": "RedriveFunction",
        "AdminTokenSecretArn": "AdminTokenSecret",
        "AdminFunctionName": "AdminFunction",
        "AdminLogGroupName": "AdminLogGroup",
        "AlarmTopicArn": "AlarmTopic",
        "DeliverLogGroupName": "DeliverLogGroup",
        "RedriveLogGroupName": "RedriveLogGroup",
    }
    urls = {
        "AdminApiUrl": {"Fn::Sub": "https://${AdminApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"},
        "ConsoleUrl": {"Fn::Sub": "https://${AdminApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/console"},
        "CollectApiUrl": {"Fn::Sub": "https://${CollectApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"},
        "CollectorDomainTarget": {"Fn::GetAtt": ["CollectorDomain", "RegionalDomainName"]},
    }
    assert {name: output["Value"] for name, output in outputs.items()} == {
        **{name: {"Ref": resource} for name, resource in expected.items()},
        **urls,
    }
    # AND the admin token's output says how to read it
    assert "get-secret-value" in outputs["AdminTokenSecretArn"]["Description"]


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
    # THEN X-Ray is a parameter, off by default (SAM's Disabled: no TracingConfig and no X-Ray policy),
    # and Powertools is told the same
    assert TEMPLATE["Parameters"]["Tracing"]["Default"] == "Disabled"
    assert TEMPLATE["Parameters"]["Tracing"]["AllowedValues"] == ["Active", "Disabled"]
    assert function["Tracing"] == {"Ref": "Tracing"}
    assert variables["POWERTOOLS_TRACE_DISABLED"] == {"Fn::If": ["TracingActive", "false", "true"]}
    assert TEMPLATE["Conditions"]["TracingActive"] == {"Fn::Equals": [{"Ref": "Tracing"}, "Active"]}
    # AND pydantic's plugin scan (entry points over the whole layer) is skipped
    assert variables["PYDANTIC_DISABLE_PLUGINS"] == "__all__"
    # AND a trace never records a handler's answer (write keys, cookies) or error (input quoted)
    assert variables["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == "false"
    assert variables["POWERTOOLS_TRACER_CAPTURE_ERROR"] == "false"


# ---- retention, log groups, alarms (DESIGN §7) ----------------------------------------------------

# The values CloudWatch Logs accepts for a log group's retention (PutRetentionPolicy, RetentionInDays).
CLOUDWATCH_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827]
CLOUDWATCH_RETENTION_DAYS += [2192, 2557, 2922, 3288, 3653]
SQS_MAX_RETENTION_DAYS = 14  # SQS MessageRetentionPeriod: 60 s to 1,209,600 s


def test_dlq_retention_is_one_to_fourteen_days_eight_by_default_in_seconds_by_a_map():
    # GIVEN the DlqRetentionDays parameter and the DaysInSeconds map
    parameter = PARAMETERS["DlqRetentionDays"]
    mapping = TEMPLATE["Mappings"]["DaysInSeconds"]
    # THEN the parameter takes whole days 1..14 (SQS's range), 8 by default
    assert (parameter["Type"], parameter["Default"]) == ("Number", 8)
    assert parameter["AllowedValues"] == list(range(1, SQS_MAX_RETENTION_DAYS + 1))
    # AND the map turns every allowed value, and only those, into seconds
    assert mapping == {str(days): {"Seconds": days * DAY} for days in parameter["AllowedValues"]}
    # AND by default a parked event is kept past Meta's age limit, as long as the events queue keeps one
    default_s = mapping[str(parameter["Default"])]["Seconds"]
    assert default_s > META_MAX_EVENT_AGE_S
    assert default_s >= props("EventsQueue")["MessageRetentionPeriod"]


def test_the_dead_letter_queue_outlives_its_stack():
    # GIVEN the DLQ resource / THEN neither a stack deletion nor a replacement deletes parked events
    resource = RESOURCES["DeadLetterQueue"]
    assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == ("Retain", "Retain")


def test_log_retention_takes_the_values_cloudwatch_accepts_thirty_days_by_default():
    # GIVEN the LogRetentionDays parameter / THEN it allows exactly CloudWatch's retention values
    parameter = PARAMETERS["LogRetentionDays"]
    assert (parameter["Type"], parameter["Default"]) == ("Number", 30)
    assert parameter["AllowedValues"] == CLOUDWATCH_RETENTION_DAYS


@pytest.mark.parametrize(
    ("function", "group", "name"),
    [
        ("DeliverFunction", "DeliverLogGroup", "deliver"),
        ("RedriveFunction", "RedriveLogGroup", "redrive"),
        ("AdminFunction", "AdminLogGroup", "admin"),
    ],
)
def test_each_function_logs_to_its_declared_group_with_a_retention(function: str, group: str, name: str):
    # GIVEN a function and its log group
    # THEN the group is declared with a name per Stage and LogRetentionDays
    assert RESOURCES[group]["Type"] == "AWS::Logs::LogGroup"
    assert props(group) == {
        "LogGroupName": {"Fn::Sub": f"/aws/lambda/relay-${{Stage}}-{name}"},
        "RetentionInDays": {"Ref": "LogRetentionDays"},
    }
    # AND the function writes there (LoggingConfig), not to a group Lambda would create without retention
    assert props(function)["LoggingConfig"] == {"LogGroup": {"Ref": group}}


def test_stalled_queue_alarm_watches_the_age_of_the_oldest_event():
    # GIVEN the stalled-queue alarm and its threshold parameter
    alarm = props("EventsQueueStalledAlarm")
    parameter = PARAMETERS["OldestMessageAlarmSeconds"]
    # THEN it fires when the events queue's oldest message is OldestMessageAlarmSeconds old (1 h default)
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == (
        "AWS/SQS",
        "ApproximateAgeOfOldestMessage",
        "Maximum",
    )
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["EventsQueue", "QueueName"]}}
    ]
    assert alarm["Period"] * alarm["EvaluationPeriods"] == 300
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (
        {"Ref": "OldestMessageAlarmSeconds"},
        "GreaterThanOrEqualToThreshold",
    )
    assert (parameter["Type"], parameter["Default"]) == ("Number", 3600)
    # AND even the highest threshold leaves a day before Meta refuses the event; none is below a period
    assert parameter["MaxValue"] <= META_MAX_EVENT_AGE_S - DAY
    assert parameter["MinValue"] >= alarm["Period"]


@pytest.mark.parametrize(
    ("alarm", "metric", "statistic", "threshold", "operator"),
    [
        ("DeliverErrorsAlarm", "Errors", "Sum", 0, "GreaterThanThreshold"),
        ("DeliverThrottlesAlarm", "Throttles", "Sum", 0, "GreaterThanThreshold"),
        ("DeliverDurationAlarm", "Duration", "Maximum", 48_000, "GreaterThanOrEqualToThreshold"),
    ],
)
def test_deliver_function_alarms_watch_its_lambda_metrics_over_five_minutes(
    alarm: str, metric: str, statistic: str, threshold: int, operator: str
):
    # GIVEN an alarm on DeliverFunction / THEN it reads the function's own Lambda metric over 5 minutes
    properties = props(alarm)
    assert (properties["Namespace"], properties["MetricName"], properties["Statistic"]) == (
        "AWS/Lambda",
        metric,
        statistic,
    )
    assert properties["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "DeliverFunction"}}]
    assert properties["Period"] * properties["EvaluationPeriods"] == 300
    assert (properties["Threshold"], properties["ComparisonOperator"]) == (threshold, operator)


def test_duration_alarm_is_eighty_percent_of_the_deliver_timeout():
    # GIVEN the deliver timeout (seconds) and the duration alarm's threshold (milliseconds)
    timeout_ms = props("DeliverFunction")["Timeout"] * 1000
    # THEN the alarm fires at 80 % of the timeout, before a timeout returns a whole batch
    assert props("DeliverDurationAlarm")["Threshold"] == timeout_ms * 8 // 10


# ---- checkov (make checkov) -----------------------------------------------------------------------

# Every finding checkov reports and the template answers by design; each skip's comment says why. A new
# skip is argued here and in the template, never added silently.
CHECKOV_SKIPS = {
    ("EventsQueue", "CKV_AWS_27"),  # SQS-managed SSE, not a KMS key
    ("DeadLetterQueue", "CKV_AWS_27"),
    ("IntegrationsTable", "CKV_AWS_119"),  # AWS managed key, not a customer managed one
    ("SourcesTable", "CKV_AWS_119"),
    ("LedgerTable", "CKV_AWS_119"),
    ("DebuggerTable", "CKV_AWS_119"),
    ("LedgerTable", "CKV_AWS_28"),  # no point-in-time recovery for TTL'd tables
    ("DebuggerTable", "CKV_AWS_28"),
    ("ProfilesTable", "CKV_AWS_119"),
    ("ProfilesTable", "CKV_AWS_28"),
    ("StatsTable", "CKV_AWS_119"),  # hourly counts only
    ("StatsTable", "CKV_AWS_28"),
    ("CollectFunction", "CKV_AWS_116"),
    ("CollectFunction", "CKV_AWS_117"),
    ("CollectFunction", "CKV_AWS_115"),
    ("CollectFunction", "CKV_AWS_173"),
    ("CollectLogGroup", "CKV_AWS_158"),
    ("CollectApiAccessLogGroup", "CKV_AWS_158"),
    ("DeliverFunction", "CKV_AWS_116"),  # no function DLQ: no asynchronous invocation
    ("DeliverFunction", "CKV_AWS_117"),  # no VPC
    ("DeliverFunction", "CKV_AWS_115"),  # no reserved concurrency
    ("DeliverFunction", "CKV_AWS_173"),  # no CMK for an environment without secrets
    ("RedriveFunction", "CKV_AWS_116"),
    ("RedriveFunction", "CKV_AWS_117"),
    ("RedriveFunction", "CKV_AWS_115"),
    ("RedriveFunction", "CKV_AWS_173"),
    ("AdminFunction", "CKV_AWS_116"),
    ("AdminFunction", "CKV_AWS_117"),
    ("AdminFunction", "CKV_AWS_115"),
    ("AdminFunction", "CKV_AWS_173"),
    ("DeliverLogGroup", "CKV_AWS_158"),  # no CMK for logs without personal data
    ("RedriveLogGroup", "CKV_AWS_158"),
    ("AdminLogGroup", "CKV_AWS_158"),
    ("AdminApiAccessLogGroup", "CKV_AWS_158"),
    ("AdminTokenSecret", "CKV_AWS_149"),  # AWS managed key; only the admin role reads it
    ("AdminTokenSecret", "CKV2_AWS_57"),  # rotated by the operator, not by a rotation Lambda
}


def test_every_checkov_skip_is_listed_and_gives_a_reason():
    # GIVEN every checkov skip of the template's resources
    skips = [
        (name, skip)
        for name, resource in RESOURCES.items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    # THEN they are exactly the expected ones, each once, each with a reason of a sentence or more
    assert sorted((name, skip["id"]) for name, skip in skips) == sorted(CHECKOV_SKIPS)
    for _, skip in skips:
        assert set(skip) == {"id", "comment"}
        assert len(skip["comment"].split()) >= 12


def test_make_test_runs_checkov_on_the_template_and_fails_on_any_finding():
    # GIVEN the Makefile and checkov's own pins
    makefile = (ROOT / "Makefile").read_text()
    test_target = re.search(r"^test:(.*)$", makefile, re.MULTILINE)
    assert test_target is not None
    recipe = makefile.split("\ncheckov:", 1)[1].split("\n\n", 1)[0]
    # THEN make test runs checkov after the template validation, from its own venv, on template.yaml as
    # CloudFormation (which includes SAM), offline, and never soft-fails
    assert test_target[1].split() == ["lint", "typecheck", "validate", "checkov", "pytest"]
    assert "$(CHECKOVVENV)/.ready" in recipe
    for flag in (
        "--framework cloudformation",
        "--file template.yaml",
        "--skip-download",
        "--quiet",
        "--compact",
    ):
        assert flag in recipe
    assert "soft-fail" not in recipe
    assert re.search(
        r"^checkov==\d+\.\d+\.\d+$", (ROOT / "requirements-checkov.txt").read_text(), re.MULTILINE
    )


# ---- the template as CloudFormation runs it: SAM's translation, offline ---------------------------

BASIC_EXECUTION = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
XRAY_WRITE = "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess"


class OfflineManagedPolicies:
    """The translator's managed-policy loader without IAM: the names this template could list, by ARN."""

    def load(self) -> dict[str, str]:
        return {"AWSLambdaBasicExecutionRole": BASIC_EXECUTION, "AWSXrayWriteOnlyAccess": XRAY_WRITE}


def translate(**parameters: str) -> dict[str, Any]:
    """template.yaml through SAM's transform, code locations as `sam package` leaves them (S3 URIs)."""
    from samtranslator.translator.transform import transform

    template = copy.deepcopy(TEMPLATE)
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if key in properties:
                properties[key] = f"s3://relay-artifacts/{properties[key]}"
    translated: dict[str, Any] = transform(template, parameters, OfflineManagedPolicies())
    return translated


TRANSLATIONS = {tracing: translate(Tracing=tracing) for tracing in PARAMETERS["Tracing"]["AllowedValues"]}


def _role_statements(role: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for policy in role["Properties"].get("Policies", []):
        yield from policy["PolicyDocument"]["Statement"]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("tracing", sorted(TRANSLATIONS))
def test_translated_roles_carry_no_managed_policy_but_basic_execution_and_xray_when_tracing(tracing: str):
    # GIVEN the translated template with Tracing on or off
    resources = TRANSLATIONS[tracing]["Resources"]
    roles = {name: r for name, r in resources.items() if r["Type"] == "AWS::IAM::Role"}
    # THEN the only roles are the functions' and no policy lives outside them
    assert sorted(roles) == [
        "AdminFunctionRole",
        "CollectFunctionRole",
        "DeliverFunctionRole",
        "RedriveFunctionRole",
    ]
    assert not [r for r in resources.values() if r["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")]
    # AND each role has the basic execution policy (CloudWatch Logs writes), X-Ray write only when
    # tracing, and nothing else: in particular not AWSLambdaSQSQueueExecutionRole (every queue of the account)
    expected = [BASIC_EXECUTION, XRAY_WRITE] if tracing == "Active" else [BASIC_EXECUTION]
    for role in roles.values():
        assert role["Properties"]["ManagedPolicyArns"] == expected


@pytest.mark.parametrize("tracing", sorted(TRANSLATIONS))
def test_translated_queue_consumers_may_receive_and_delete_on_their_own_queue_only(tracing: str):
    # GIVEN every statement of every translated role
    resources = TRANSLATIONS[tracing]["Resources"]
    consume = {"sqs:ReceiveMessage", "sqs:DeleteMessage"}
    granted = {
        (name, action, json.dumps(resource, sort_keys=True))
        for name, r in resources.items()
        if r["Type"] == "AWS::IAM::Role"
        for statement in _role_statements(r)
        for action in _as_list(statement["Action"])
        if action in consume
        for resource in _as_list(statement["Resource"])
    }
    # THEN deliver consumes the events queue, redrive (and the admin API's redrive after a token change)
    # the DLQ, nothing else
    events, dlq = (json.dumps({"Fn::GetAtt": [q, "Arn"]}) for q in ("EventsQueue", "DeadLetterQueue"))
    assert granted == {
        ("DeliverFunctionRole", "sqs:ReceiveMessage", events),
        ("DeliverFunctionRole", "sqs:DeleteMessage", events),
        ("RedriveFunctionRole", "sqs:ReceiveMessage", dlq),
        ("RedriveFunctionRole", "sqs:DeleteMessage", dlq),
        ("AdminFunctionRole", "sqs:ReceiveMessage", dlq),
        ("AdminFunctionRole", "sqs:DeleteMessage", dlq),
    }


@pytest.mark.parametrize("tracing", sorted(TRANSLATIONS))
def test_translated_roles_grant_no_queue_or_table_action_on_a_wildcard(tracing: str):
    # GIVEN every translated role statement that names an SQS or DynamoDB action
    resources = TRANSLATIONS[tracing]["Resources"]
    data_statements = [
        statement
        for r in resources.values()
        if r["Type"] == "AWS::IAM::Role"
        for statement in _role_statements(r)
        if any(a.startswith(("sqs:", "dynamodb:")) for a in _as_list(statement["Action"]))
    ]
    # THEN each names its resources (no "*" anywhere in them) and no action is a wildcard
    assert len(data_statements) == 19
    for statement in data_statements:
        assert statement["Effect"] == "Allow"
        assert "*" not in json.dumps(statement["Resource"])
        assert not any("*" in a for a in _as_list(statement["Action"]))


def test_translated_mapping_polls_as_the_deliver_role_once_the_role_exists():
    # GIVEN the translated template
    resources = TRANSLATIONS["Disabled"]["Resources"]
    mappings = {n: r for n, r in resources.items() if r["Type"] == "AWS::Lambda::EventSourceMapping"}
    # THEN the one mapping is the template's: the deliver function, created after the role it runs as
    assert list(mappings) == ["DeliverFunctionQueue"]
    assert mappings["DeliverFunctionQueue"]["DependsOn"] == "DeliverFunctionRole"
    assert mappings["DeliverFunctionQueue"]["Properties"]["FunctionName"] == {"Ref": "DeliverFunction"}
    assert resources["DeliverFunction"]["Properties"]["Role"] == {
        "Fn::GetAtt": ["DeliverFunctionRole", "Arn"]
    }
    # AND the functions write to the declared log groups (the basic execution policy covers any group)
    for function, group in (
        ("DeliverFunction", "DeliverLogGroup"),
        ("RedriveFunction", "RedriveLogGroup"),
        ("AdminFunction", "AdminLogGroup"),
        ("CollectFunction", "CollectLogGroup"),
    ):
        assert resources[function]["Properties"]["LoggingConfig"] == {"LogGroup": {"Ref": group}}
        assert "TracingConfig" not in resources[function]["Properties"]
    assert TRANSLATIONS["Active"]["Resources"]["DeliverFunction"]["Properties"]["TracingConfig"] == {
        "Mode": {"Ref": "Tracing"}
    }


def test_any_events_queue_message_fits_the_dlq_with_its_reason_attributes():
    # GIVEN both queues' MaximumMessageSize and Relay's own bounds
    from relay.events import MAX_EVENT_BYTES
    from relay.queue import DETAIL_MAX

    resources = TEMPLATE["Resources"]
    events = resources["EventsQueue"]["Properties"]["MaximumMessageSize"]
    dlq = resources["DeadLetterQueue"]["Properties"]["MaximumMessageSize"]
    # THEN the events queue takes every event Relay reads, and the DLQ takes any events-queue message
    # plus the reason, integration id and detail attributes a park adds (with room to spare)
    assert MAX_EVENT_BYTES <= events == 256 * 1024
    assert dlq == 1024 * 1024
    assert events + DETAIL_MAX + 1024 < dlq


# ---- the collector --------------------------------------------------------------------------------


def test_collect_function_is_granted_exactly_what_it_uses():
    # GIVEN the collector's inline policy / THEN: a write key's source (GetItem), the origins a preflight
    # is granted (Scan), one action on the events queue, profile writes; nothing else
    assert grants("CollectFunction") == {
        "dynamodb:GetItem": {"SourcesTable.Arn"},
        "dynamodb:Scan": {"SourcesTable.Arn"},
        "sqs:SendMessage": {"EventsQueue.Arn"},
        "dynamodb:UpdateItem": {"ProfilesTable.Arn"},
    }


def test_collect_function_environment_and_route():
    # GIVEN the collector function
    function = props("CollectFunction")
    # THEN its settings come from the template's resources and parameters (relay.settings.CollectSettings)
    assert function["Environment"]["Variables"] == {
        "SOURCES_TABLE": {"Ref": "SourcesTable"},
        "EVENTS_QUEUE_URL": {"Ref": "EventsQueue"},
        "PROFILES_TABLE": {"Ref": "ProfilesTable"},
        "TRUSTED_PROXY_HOPS": {"Ref": "TrustedProxyHops"},
        "PROFILE_TTL_DAYS": {"Ref": "ProfileTtlDays"},
    }
    # AND every /v1 route of its own HTTP API reaches it (OPTIONS too: CORS is answered per source)
    assert function["Events"] == {
        "Collect": {
            "Type": "HttpApi",
            "Properties": {"ApiId": {"Ref": "CollectApi"}, "Path": "/v1/{proxy+}", "Method": "ANY"},
        }
    }
    api = props("CollectApi")
    assert "CorsConfiguration" not in api
    assert api["DefaultRouteSettings"] == {
        "ThrottlingBurstLimit": {"Ref": "CollectThrottleBurst"},
        "ThrottlingRateLimit": {"Ref": "CollectThrottleRate"},
    }
    log_format = api["AccessLogSettings"]["Format"]
    for secret_bearing in ("$context.identity.sourceIp", "header", "querystring", "body"):
        assert secret_bearing not in log_format


def test_collect_settings_read_the_template_defaults():
    # GIVEN the parameters' defaults / THEN the settings model accepts them and the TTL table matches
    from relay.settings import CollectSettings

    parameters = TEMPLATE["Parameters"]
    settings = CollectSettings.model_validate(
        {
            "sources_table": "s",
            "events_queue_url": "q",
            "profiles_table": "p",
            "trusted_proxy_hops": parameters["TrustedProxyHops"]["Default"],
            "profile_ttl_days": parameters["ProfileTtlDays"]["Default"],
        }
    )
    assert (settings.trusted_proxy_hops, settings.profile_ttl_days, settings.cookie_secure) == (0, 90, True)
    assert props("ProfilesTable")["TimeToLiveSpecification"] == {
        "AttributeName": "expires_at",
        "Enabled": True,
    }
    assert props("ProfilesTable")["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]


def test_the_custom_domain_exists_only_when_asked_for_and_needs_a_certificate():
    # GIVEN the custom-domain resources
    domain, mapping = RESOURCES["CollectorDomain"], RESOURCES["CollectorDomainMapping"]
    # THEN both hang on HasCollectorDomain, the mapping targets CollectApi's $default stage
    assert domain["Condition"] == mapping["Condition"] == "HasCollectorDomain"
    assert TEMPLATE["Conditions"]["HasCollectorDomain"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "CollectorDomainName"}, ""]}]
    }
    assert domain["Properties"]["DomainNameConfigurations"] == [
        {"CertificateArn": {"Ref": "CertificateArn"}, "EndpointType": "REGIONAL", "SecurityPolicy": "TLS_1_2"}
    ]
    assert mapping["Properties"] == {
        "DomainName": {"Ref": "CollectorDomain"},
        "ApiId": {"Ref": "CollectApi"},
        "Stage": "$default",
    }
    assert mapping["DependsOn"] == "CollectApiApiGatewayDefaultStage"
    assert "CollectApiApiGatewayDefaultStage" in TRANSLATIONS["Disabled"]["Resources"]
    # AND a domain without a certificate is refused before deploying
    (assertion,) = TEMPLATE["Rules"]["CollectorDomain"]["Assertions"]
    assert assertion["Assert"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "CertificateArn"}, ""]}]}
    assert TEMPLATE["Outputs"]["CollectorDomainTarget"]["Condition"] == "HasCollectorDomain"
