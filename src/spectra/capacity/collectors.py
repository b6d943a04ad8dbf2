"""Metric collectors (METRICS_PROVIDER): local psutil, AWS CloudWatch, GCP Cloud Monitoring.

Each returns point dicts in the shape `POST /api/metrics` takes (resource_id, metric, ts, value,
provider), so a poll goes through the same validation and storage as an agent's batch.
"""

from __future__ import annotations

import hashlib
import math
import random
from datetime import datetime, timedelta
from typing import Any

import psutil

from spectra.core.config import Settings

Point = dict[str, Any]

# The local provider watches this host and simulates a few more resources around it (the AutoScale seed's
# "local simulation"), each with its own offset, daily swing and noise, so forecasts and alerts have a fleet.
SIMULATED = (("local-sim-1", 12.0, 18.0, 3.0), ("local-sim-2", -8.0, 10.0, 9.0))


def _noise(resource_id: str, metric: str, ts: datetime) -> float:
    seed = int(hashlib.sha256(f"{resource_id}|{metric}|{ts.isoformat()}".encode()).hexdigest()[:12], 16)
    return random.Random(seed).gauss(0.0, 2.0)


def _clip(value: float) -> float:
    return round(min(100.0, max(0.0, value)), 3)


def collect_local(now: datetime, cpu: float | None = None, memory: float | None = None) -> list[Point]:
    """This host's CPU and memory (psutil), plus simulated resources varying around them."""
    cpu = psutil.cpu_percent(interval=None) if cpu is None else cpu
    memory = psutil.virtual_memory().percent if memory is None else memory
    ts = now.replace(microsecond=0)
    points: list[Point] = [
        {"resource_id": "local", "metric": "cpu", "ts": ts, "value": _clip(cpu), "provider": "local"},
        {"resource_id": "local", "metric": "memory", "ts": ts, "value": _clip(memory), "provider": "local"},
    ]
    hour = ts.hour + ts.minute / 60.0
    for resource_id, offset, swing, phase in SIMULATED:
        daily = swing * math.sin(2 * math.pi * (hour - phase) / 24.0)
        for metric, base in (("cpu", cpu), ("memory", memory)):
            value = base + offset + daily + _noise(resource_id, metric, ts)
            points.append(
                {"resource_id": resource_id, "metric": metric, "ts": ts, "value": _clip(value), "provider": "local"}
            )
    return points


AWS_QUERIES = (
    ("cpu", "AWS/EC2", "CPUUtilization"),
    ("memory", "CWAgent", "mem_used_percent"),  # needs the CloudWatch agent on the instance
)


def collect_aws(settings: Settings, now: datetime, lookback: timedelta, client: Any = None) -> list[Point]:
    """CloudWatch GetMetricData: 5-minute averages of CPU (and agent memory) for AWS_RESOURCE_IDS."""
    if not settings.aws_resource_ids:
        return []
    if client is None:
        import boto3

        client = boto3.client(
            "cloudwatch",
            region_name=settings.aws_region,
            endpoint_url=settings.aws_endpoint_url,
            aws_access_key_id=settings.aws_access_key_id,
            aws_secret_access_key=(
                settings.aws_secret_access_key.get_secret_value() if settings.aws_secret_access_key else None
            ),
        )
    queries, meaning = [], {}
    for i, instance_id in enumerate(settings.aws_resource_ids):
        for j, (metric, namespace, name) in enumerate(AWS_QUERIES):
            qid = f"q{i}_{j}"
            meaning[qid] = (instance_id, metric)
            queries.append(
                {
                    "Id": qid,
                    "MetricStat": {
                        "Metric": {
                            "Namespace": namespace,
                            "MetricName": name,
                            "Dimensions": [{"Name": "InstanceId", "Value": instance_id}],
                        },
                        "Period": 300,
                        "Stat": "Average",
                    },
                    "ReturnData": True,
                }
            )
    points: list[Point] = []
    for start in range(0, len(queries), 500):  # GetMetricData takes at most 500 queries
        kwargs: dict[str, Any] = {
            "MetricDataQueries": queries[start : start + 500],
            "StartTime": now - lookback,
            "EndTime": now,
        }
        while True:
            response = client.get_metric_data(**kwargs)
            for result in response.get("MetricDataResults", []):
                instance_id, metric = meaning[result["Id"]]
                for ts, value in zip(result.get("Timestamps", []), result.get("Values", []), strict=False):
                    points.append(
                        {
                            "resource_id": instance_id,
                            "metric": metric,
                            "ts": ts,
                            "value": _clip(value),
                            "provider": "aws",
                        }
                    )
            token = response.get("NextToken")
            if not token:
                break
            kwargs["NextToken"] = token
    return points


GCP_METRICS = (
    ("cpu", "compute.googleapis.com/instance/cpu/utilization", 100.0),  # a 0..1 fraction
    ("memory", "agent.googleapis.com/memory/percent_used", 1.0),  # Ops Agent, state="used"
)


def collect_gcp(settings: Settings, now: datetime, lookback: timedelta, client: Any = None) -> list[Point]:
    """Cloud Monitoring list_time_series for GCP_INSTANCE_IDS (5-minute mean alignment)."""
    if not settings.gcp_project_id or not settings.gcp_instance_ids:
        return []
    from google.cloud import monitoring_v3
    from google.protobuf import duration_pb2, timestamp_pb2

    if client is None:
        client = monitoring_v3.MetricServiceClient()
    interval = monitoring_v3.TimeInterval(
        start_time=timestamp_pb2.Timestamp(seconds=int((now - lookback).timestamp())),
        end_time=timestamp_pb2.Timestamp(seconds=int(now.timestamp())),
    )
    aggregation = monitoring_v3.Aggregation(
        alignment_period=duration_pb2.Duration(seconds=300),
        per_series_aligner=monitoring_v3.Aggregation.Aligner.ALIGN_MEAN,
    )
    ids = " OR ".join(f'resource.labels.instance_id = "{i}"' for i in settings.gcp_instance_ids)
    points: list[Point] = []
    for metric, metric_type, scale in GCP_METRICS:
        extra = ' AND metric.labels.state = "used"' if metric == "memory" else ""
        request = monitoring_v3.ListTimeSeriesRequest(
            name=f"projects/{settings.gcp_project_id}",
            filter=f'metric.type = "{metric_type}" AND ({ids}){extra}',
            interval=interval,
            aggregation=aggregation,
            view=monitoring_v3.ListTimeSeriesRequest.TimeSeriesView.FULL,
        )
        for series in client.list_time_series(request=request):
            instance_id = series.resource.labels.get("instance_id", "")
            name = series.metric.labels.get("instance_name") or None
            for p in series.points:
                value = p.value.double_value if p.value.double_value or not p.value.int64_value else p.value.int64_value
                points.append(
                    {
                        "resource_id": instance_id,
                        "metric": metric,
                        "ts": p.interval.end_time,
                        "value": _clip(float(value) * scale),
                        "provider": "gcp",
                        "name": name,
                    }
                )
    return points


def collect(settings: Settings, now: datetime) -> list[Point]:
    """One poll of the configured provider."""
    lookback = timedelta(minutes=max(10, 2 * settings.poll_interval_minutes))
    if settings.metrics_provider == "local":
        return collect_local(now)
    if settings.metrics_provider == "aws":
        return collect_aws(settings, now, lookback)
    if settings.metrics_provider == "gcp":
        return collect_gcp(settings, now, lookback)
    return []
