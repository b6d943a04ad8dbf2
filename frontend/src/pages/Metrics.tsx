import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { api, unwrap } from "../api";
import type { ResponseOf } from "../api/client";
import { MetricChart, type SeriesPoint } from "../components/MetricChart";
import { EmptyState, ErrorState, QueryView } from "../components/states";
import { Badge, Button, Card, PageHeader, SelectField } from "../components/ui";
import { useEventStream } from "../hooks/useEventStream";
import { formatDateTime, formatDuration, formatPercent, formatRelative } from "../lib/format";
import { humanize } from "../lib/labels";

type Forecast = ResponseOf<"/api/forecast", "get">["forecasts"][number];
const RANGES = ["1h", "6h", "24h", "7d"] as const;
type Range = (typeof RANGES)[number];

const METRIC_LABELS: Record<string, string> = { cpu: "CPU", memory: "Memory", disk: "Disk", network_in: "Network in", network_out: "Network out" };
export function metricLabel(metric: string): string {
  return METRIC_LABELS[metric] ?? humanize(metric);
}

/** Utilisation metrics are percentages; anything else is shown with its own name as the unit. */
export function metricUnit(metric: string): string {
  return /cpu|mem|disk|util|percent/i.test(metric) ? "%" : "";
}

/** What the forecast says about the threshold, in words. */
export function breachText(f: Forecast | undefined, now: number = Date.now()): string {
  if (!f) return "no forecast yet";
  if (f.already_breached) return `over the threshold now (${formatPercent(f.current, 1)})`;
  if (f.breach_at) {
    const minutes = f.minutes_to_breach ?? (new Date(f.breach_at).getTime() - now) / 60000;
    return `breach predicted at ${formatDateTime(f.breach_at)} (in ${formatDuration(minutes * 60)})`;
  }
  return "no breach predicted within the look-ahead";
}

export function Metrics() {
  const [resource, setResource] = useState<string>("");
  const [range, setRange] = useState<Range>("1h");
  useEventStream(["capacity."]);
  const resources = useQuery({ queryKey: ["capacity", "resources"], queryFn: () => unwrap(api.GET("/api/resources")), refetchInterval: 60_000 });
  const chosen = resource || resources.data?.[0]?.resource_id || "";
  const metrics = useQuery({
    queryKey: ["capacity", "metrics", chosen, range],
    queryFn: () => unwrap(api.GET("/api/metrics", { params: { query: { resource_id: chosen, range } } })),
    enabled: !!chosen,
    refetchInterval: 60_000,
  });
  const forecast = useQuery({
    queryKey: ["capacity", "forecast", chosen],
    queryFn: () => unwrap(api.GET("/api/forecast", { params: { query: { resource_id: chosen } } })),
    enabled: !!chosen,
    refetchInterval: 60_000,
  });
  const byMetric = new Map((forecast.data?.forecasts ?? []).map((f) => [f.metric, f]));
  const current = resources.data?.find((r) => r.resource_id === chosen);

  return (
    <>
      <PageHeader
        title="Metrics"
        description="Utilisation of each resource with its alert threshold, the forecast continuing it (with its uncertainty band) and when it is predicted to cross the threshold."
        actions={
          <>
            <SelectField
              label="Resource"
              value={chosen}
              onChange={(e) => setResource(e.target.value)}
              options={(resources.data ?? []).map((r) => ({ value: r.resource_id, label: `${r.name ?? r.resource_id} (${r.provider})` }))}
              data-testid="resource-picker"
            />
            <div role="group" aria-label="Time range" className="flex gap-1 self-end">
              {RANGES.map((r) => (
                <Button key={r} variant={r === range ? "primary" : "secondary"} aria-pressed={r === range} onClick={() => setRange(r)} data-testid={`range-${r}`}>
                  {r}
                </Button>
              ))}
            </div>
          </>
        }
      />
      {resources.isError && <ErrorState error={resources.error} onRetry={() => void resources.refetch()} />}
      {resources.isSuccess && resources.data.length === 0 && <EmptyState title="No resources report metrics yet" hint="Collectors (local, AWS CloudWatch, GCP Monitoring) or agents POST /api/metrics." />}
      {current && (
        <p className="mb-3 text-sm text-slate-600" data-testid="resource-status">
          Last seen {formatRelative(current.last_seen_at)} ·{" "}
          {Object.entries(current.latest)
            .map(([m, v]) => `${metricLabel(m)} ${v.value.toFixed(1)}${metricUnit(m) ? `\u202f${metricUnit(m)}` : ""}`)
            .join(" · ")}
          {current.over_threshold.length > 0 && (
            <>
              {" "}
              <Badge tone="bad">over threshold: {current.over_threshold.join(", ")}</Badge>
            </>
          )}
        </p>
      )}
      {chosen && (
        <QueryView query={metrics} isEmpty={(m) => Object.keys(m.metrics).length === 0} empty={<EmptyState title="No data in this range" />}>
          {(m) => (
            <div className="grid gap-4 xl:grid-cols-2">
              {Object.entries(m.metrics).map(([metric, points]) => {
                const f = byMetric.get(metric);
                const unit = metricUnit(metric) || metric;
                return (
                  <Card
                    key={metric}
                    title={metricLabel(metric)}
                    testId={`metric-${metric}`}
                    description={`${m.source === "raw" ? "raw points" : `${m.source} averages`} · ${formatDateTime(m.start)} – ${formatDateTime(m.end)}`}
                    actions={f ? <Badge tone={f.already_breached || f.breach_at ? "bad" : "good"}>{f.already_breached ? "breached" : f.breach_at ? "breach ahead" : "ok"}</Badge> : null}
                  >
                    <MetricChart label={`${metricLabel(metric)} of ${chosen}`} unit={unit} history={points as SeriesPoint[]} forecast={f?.path ?? []} threshold={f?.threshold ?? null} breachAt={f?.breach_at ?? null} testId={`chart-${metric}`} />
                    <p className="mt-2 text-sm" data-testid={`breach-${metric}`}>
                      {breachText(f)}
                    </p>
                    {f && (
                      <p className="text-xs text-slate-500">
                        {f.method} forecast from {f.points_used} points up to {formatDateTime(f.data_until)} · confidence {formatPercent(f.confidence * 100, 0)} · threshold {f.threshold}
                        {unit === "%" ? "\u202f%" : ""}
                      </p>
                    )}
                  </Card>
                );
              })}
            </div>
          )}
        </QueryView>
      )}
      {forecast.isError && <ErrorState error={forecast.error} title="Forecast unavailable" />}
    </>
  );
}
