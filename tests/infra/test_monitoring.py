"""O1/O5: the workbook and the alerts in the Bicep template read the metrics the connector really emits
(names from connector/telemetry/metrics.py), and the alerts are metric alerts wired to the action group."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from connector.telemetry import metrics
from tests.infra.template import INFRA, body, of_type, resources, text, variable

WORKBOOK = INFRA / "workbook.json"


def accessor(node: Any) -> tuple[str, str]:
    """`a.b` as pycep reads it."""
    operands = node["operator"]["operands"]
    assert node["operator"]["type"] == "property_accessor"
    return str(operands["operand_1"]), str(operands["operand_2"])


def workbook_queries() -> dict[str, str]:
    content = json.loads(WORKBOOK.read_text(encoding="utf-8"))
    assert content["version"] == "Notebook/1.0"
    return {item["name"]: item["content"]["query"] for item in content["items"] if item["type"] == 3}


def metric_names(kql: str) -> set[str]:
    return set(re.findall(r"'(connector\.[a-z_.]+)'", kql))


def test_o5_workbook_is_a_plain_resource_on_application_insights() -> None:
    (key,) = of_type("Microsoft.Insights/workbooks")
    config = body(resources()[key])
    guid = config["name"]["function"]
    assert guid["type"] == "guid" and accessor(guid["parameters"]["base_string"]) == ("insights", "id")
    properties = config["properties"]
    assert properties["category"] == "workbook"
    assert accessor(properties["sourceId"]) == ("insights", "id")
    assert resources()["insights"]["type"] == "Microsoft.Insights/components"
    assert properties["serializedData"]["function"] == {
        "type": "load_text_content",
        "parameters": {"file_path": WORKBOOK.name, "encoding": None},
    }


def test_o1_workbook_reads_the_connector_metrics_per_connection() -> None:
    queries = workbook_queries()
    for name, kql in queries.items():
        assert kql.startswith("customMetrics"), name
        assert metric_names(kql), f"{name} reads no connector metric"
    read = set().union(*(metric_names(kql) for kql in queries.values()))
    emitted = {value for value in vars(metrics).values() if isinstance(value, str)}
    assert read <= emitted, f"the workbook reads metrics the connector never emits: {read - emitted}"
    assert read >= {
        metrics.SYNCED,
        metrics.FAILED,
        metrics.SYNC_LATENCY,
        metrics.POISONED,
        metrics.XERO_DAY_BUDGET,
        metrics.XERO_RATE_LIMITED,
        metrics.DATAVERSE_THROTTLED,
        metrics.XERO_CALLS,
        metrics.NEEDS_RECONNECT,
    }
    # Volume per connection over time; latency p50/p95 split by direction; failures by operation.
    for name in ("synced", "failed"):
        assert "by connection, bin(timestamp" in queries[name]
        assert "{Connection}" in queries[name]
    assert "percentilesw(valueSum / valueCount, valueCount, 50, 95)" in queries["latency"]
    assert "by direction" in queries["latency"]
    assert "customDimensions.operation" in queries["failures-by-reason"]
    assert "customDimensions.queue" in queries["poison"] and "customDimensions.reason" in queries["poison"]


METRIC_ALERTS = [
    ("sync-failures", metrics.FAILED, "Total", 0),
    ("poison-messages", metrics.POISONED, "Total", 0),
    ("needs-reconnect", metrics.NEEDS_RECONNECT, "Total", 0),
    (
        "xero-day-budget",
        metrics.XERO_DAY_BUDGET,
        "Maximum",
        {"function": {"type": "json", "parameters": {"arg_1": "0.8"}}},
    ),
]


def metric_alert_rule() -> dict[str, Any]:
    (key,) = of_type("Microsoft.Insights/metricAlerts")
    rule = resources()[key]
    assert rule["config"]["loop_type"]["detail"]["array_name"] == "metricAlerts"
    return body(rule)


@pytest.mark.parametrize(("key", "metric", "aggregation", "threshold"), METRIC_ALERTS)
def test_o5_metric_alert_on_the_named_metric(key: str, metric: str, aggregation: str, threshold: Any) -> None:
    alerts = {alert["key"]: alert for alert in variable("metricAlerts")}
    alert = alerts[key]
    assert (alert["metric"], alert["aggregation"], alert["threshold"]) == (metric, aggregation, threshold)
    rule = metric_alert_rule()
    properties = rule["properties"]
    assert [accessor(scope) for scope in properties["scopes"]] == [("insights", "id")]
    assert properties["windowSize"] == "PT15M" and properties["enabled"] is True
    (criterion,) = properties["criteria"]["allOf"]
    assert criterion["metricNamespace"] == "azure.applicationinsights"
    assert criterion["skipMetricValidation"] is True  # custom metrics exist only once emitted
    assert criterion["operator"] == "GreaterThan"
    for field, source in (
        ("metricName", "metric"),
        ("timeAggregation", "aggregation"),
        ("threshold", "threshold"),
    ):
        assert accessor(criterion[field]) == ("alert", source)


def test_o5_metric_alerts_go_to_the_action_group_parameter() -> None:
    actions = metric_alert_rule()["properties"]["actions"]["operator"]
    assert actions["type"] == "conditional"
    operands = actions["operands"]
    assert operands["condition"]["function"] == {
        "type": "empty",
        "parameters": {"item_to_test": "alertActionGroupId"},
    }
    assert operands["true_value"] == []
    assert operands["false_value"] == [{"actionGroupId": "alertActionGroupId"}]
    assert set(alert["key"] for alert in variable("metricAlerts")) == {key for key, *_ in METRIC_ALERTS}


def test_o5_log_alerts_only_for_what_no_metric_alert_covers() -> None:
    queries = {key.strip("'") for key in variable("alertQueries")}  # pycep keeps a quoted key's quotes
    assert queries == {"delete-needs-attention"}
    assert not {key for key, *_ in METRIC_ALERTS} & queries
    log_rule = body(resources()["alerts"])
    assert "alertActionGroupId" in text(log_rule["properties"]["actions"])
