"""Collectors: local psutil + simulation, AWS CloudWatch (moto), GCP Cloud Monitoring (a local gRPC server
answering with recorded responses); and the poll job that stores, forecasts and reports health."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent import futures
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import grpc
import pytest
from google.cloud import monitoring_v3
from google.cloud.monitoring_v3.services.metric_service.transports import MetricServiceGrpcTransport
from moto import mock_aws
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from spectra.capacity import collectors, poll_status, tasks
from spectra.capacity.models import ForecastRecord, MetricPoint, Resource
from spectra.core.clock import clock
from spectra.core.config import get_settings
from spectra.core.health import component_health

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def test_local_reports_host_and_simulated_resources() -> None:
    points = collectors.collect_local(NOW, cpu=50.0, memory=60.0)
    by = {(p["resource_id"], p["metric"]): p["value"] for p in points}
    assert by[("local", "cpu")] == 50.0 and by[("local", "memory")] == 60.0
    assert {r for r, _ in by} == {"local", "local-sim-1", "local-sim-2"}
    assert all(0.0 <= v <= 100.0 for v in by.values())
    assert by[("local-sim-1", "cpu")] != by[("local-sim-2", "cpu")]
    assert collectors.collect_local(NOW, cpu=50.0, memory=60.0) == points  # deterministic for a given time
    assert collectors.collect_local(NOW, cpu=150.0, memory=-5.0)[0]["value"] == 100.0  # clipped


def test_local_reads_psutil_when_not_given() -> None:
    points = collectors.collect_local(NOW)
    assert len(points) == 6 and all(0.0 <= p["value"] <= 100.0 for p in points)


def test_aws_cloudwatch_get_metric_data(settings_env) -> None:  # type: ignore[no-untyped-def]
    settings_env(AWS_RESOURCE_IDS="i-0aaa,i-0bbb", AWS_REGION="us-east-1")
    with mock_aws():
        cw = boto3.client("cloudwatch", region_name="us-east-1")
        for k, value in enumerate((20.0, 35.0, 50.0)):
            cw.put_metric_data(
                Namespace="AWS/EC2",
                MetricData=[{"MetricName": "CPUUtilization", "Dimensions": [{"Name": "InstanceId", "Value": "i-0aaa"}],
                             "Timestamp": NOW - timedelta(minutes=5 * (3 - k)), "Value": value, "Unit": "Percent"}],
            )  # fmt: skip
        cw.put_metric_data(
            Namespace="CWAgent",
            MetricData=[{"MetricName": "mem_used_percent", "Dimensions": [{"Name": "InstanceId", "Value": "i-0bbb"}],
                         "Timestamp": NOW - timedelta(minutes=5), "Value": 71.5}],
        )  # fmt: skip
        points = collectors.collect_aws(get_settings(), NOW, timedelta(minutes=30), client=cw)
    cpu = sorted((p["ts"], p["value"]) for p in points if p["resource_id"] == "i-0aaa" and p["metric"] == "cpu")
    assert [v for _, v in cpu] == [20.0, 35.0, 50.0]
    assert all(t.tzinfo is not None for t, _ in cpu)
    memory = [p["value"] for p in points if p["resource_id"] == "i-0bbb" and p["metric"] == "memory"]
    assert memory == [71.5]
    assert all(p["provider"] == "aws" for p in points)


def test_aws_without_resource_ids_collects_nothing(settings_env) -> None:  # type: ignore[no-untyped-def]
    settings_env(AWS_RESOURCE_IDS="")
    assert collectors.collect_aws(get_settings(), NOW, timedelta(minutes=10), client=object()) == []


# Responses as Cloud Monitoring returns them (JSON form of ListTimeSeriesResponse).
RECORDED = {
    "compute.googleapis.com/instance/cpu/utilization": {
        "timeSeries": [
            {
                "metric": {"type": "compute.googleapis.com/instance/cpu/utilization",
                           "labels": {"instance_name": "web-a"}},
                "resource": {"type": "gce_instance",
                             "labels": {"project_id": "demo", "instance_id": "4711", "zone": "europe-west1-b"}},
                "metricKind": "GAUGE",
                "valueType": "DOUBLE",
                "points": [
                    {"interval": {"startTime": "2026-03-10T11:55:00Z", "endTime": "2026-03-10T12:00:00Z"},
                     "value": {"doubleValue": 0.4375}},
                    {"interval": {"startTime": "2026-03-10T11:50:00Z", "endTime": "2026-03-10T11:55:00Z"},
                     "value": {"doubleValue": 0.25}},
                ],
            }
        ]
    },
    "agent.googleapis.com/memory/percent_used": {
        "timeSeries": [
            {
                "metric": {"type": "agent.googleapis.com/memory/percent_used", "labels": {"state": "used"}},
                "resource": {"type": "gce_instance", "labels": {"project_id": "demo", "instance_id": "4711"}},
                "points": [
                    {"interval": {"startTime": "2026-03-10T11:55:00Z", "endTime": "2026-03-10T12:00:00Z"},
                     "value": {"doubleValue": 63.2}},
                ],
            }
        ]
    },
}  # fmt: skip


@pytest.fixture()
def gcp_client() -> Iterator[tuple[monitoring_v3.MetricServiceClient, list[Any]]]:
    requests: list[Any] = []

    def list_time_series(request: monitoring_v3.ListTimeSeriesRequest, context: Any) -> Any:
        requests.append(request)
        metric_type = request.filter.split('"')[1]
        return monitoring_v3.ListTimeSeriesResponse.from_json(json.dumps(RECORDED[metric_type]))

    handler = grpc.method_handlers_generic_handler(
        "google.monitoring.v3.MetricService",
        {
            "ListTimeSeries": grpc.unary_unary_rpc_method_handler(
                list_time_series,
                request_deserializer=monitoring_v3.ListTimeSeriesRequest.deserialize,
                response_serializer=monitoring_v3.ListTimeSeriesResponse.serialize,
            )
        },
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    client = monitoring_v3.MetricServiceClient(transport=MetricServiceGrpcTransport(channel=channel))
    yield client, requests
    channel.close()
    server.stop(0)


def test_gcp_list_time_series(gcp_client, settings_env) -> None:  # type: ignore[no-untyped-def]
    client, requests = gcp_client
    settings_env(GCP_PROJECT_ID="demo", GCP_INSTANCE_IDS="4711,4712")
    points = collectors.collect_gcp(get_settings(), NOW, timedelta(minutes=10), client=client)
    cpu = sorted((p["ts"], p["value"]) for p in points if p["metric"] == "cpu")
    assert cpu == [(NOW - timedelta(minutes=5), 25.0), (NOW, 43.75)]  # fraction → percent
    assert [p["value"] for p in points if p["metric"] == "memory"] == [63.2]
    assert {p["resource_id"] for p in points} == {"4711"}
    assert next(p["name"] for p in points if p["metric"] == "cpu") == "web-a"
    first = requests[0]
    assert first.name == "projects/demo"
    assert 'resource.labels.instance_id = "4711" OR resource.labels.instance_id = "4712"' in first.filter
    assert first.aggregation.alignment_period.seconds == 300
    assert 'metric.labels.state = "used"' in requests[1].filter


def test_poll_job_stores_forecasts_and_reports_health(db: Session, settings_env) -> None:  # type: ignore[no-untyped-def]
    settings_env(METRICS_PROVIDER="local", SLACK_WEBHOOK_URL="", SMTP_HOST="")
    poll_status.reset()
    for k in range(3):
        at = NOW + timedelta(minutes=5 * k)
        clock.set_override(at)
        result = tasks.poll(db, at)
    assert result["provider"] == "local" and result["accepted"] == 6
    assert {r.resource_id for r in db.scalars(select(Resource)).all()} == {"local", "local-sim-1", "local-sim-2"}
    assert db.scalar(select(func.count()).select_from(MetricPoint)) == 18
    assert result["forecasts"] == 3 * 2 * 2  # resources x metrics x methods
    # the first poll has one point per series, too few to forecast; the next two store 12 each
    assert db.scalar(select(func.count()).select_from(ForecastRecord)) == 2 * 12
    health = poll_status.health()
    assert health["status"] == "ok" and health["points"] == 6
    poll_status.record("aws", NOW, error="AccessDenied")
    assert poll_status.health()["status"] == "degraded"


def test_health_check_is_registered(settings_env) -> None:  # type: ignore[no-untyped-def]
    from spectra.capacity.startup import startup

    startup()
    poll_status.reset()
    assert component_health()["capacity_collector"]["status"] == "ok"
