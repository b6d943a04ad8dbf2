// Switch downtime over a rolling window (Spot v6): p95, average, min, max and success rate, judged
// against the p95 target; the trend compares p95 with the previous window when it is given.
import { formatDuration, formatRatio } from "../lib/format";
import { Badge, Card } from "./ui";
import { EmptyState } from "./states";

export interface DowntimeStats {
  window_hours: number;
  switches: number;
  successful: number;
  success_rate: number | null;
  measured: number;
  p95_seconds: number | null;
  avg_seconds: number | null;
  min_seconds: number | null;
  max_seconds: number | null;
  target_p95_seconds: number;
  meets_target: boolean | null;
}

export type Trend = "better" | "worse" | "same" | null;

/** Lower downtime is better; changes under 5 % (or 0.1 s) count as unchanged. */
export function downtimeTrend(current: number | null, previous: number | null | undefined): Trend {
  if (current === null || previous === null || previous === undefined) return null;
  const delta = current - previous;
  if (Math.abs(delta) < Math.max(0.1, Math.abs(previous) * 0.05)) return "same";
  return delta < 0 ? "better" : "worse";
}

const TREND_TEXT: Record<Exclude<Trend, null>, string> = { better: "↓ better", worse: "↑ worse", same: "→ unchanged" };

export function DowntimeCard({
  stats,
  previousP95,
  previousLabel = "previous window",
}: {
  stats: DowntimeStats;
  previousP95?: number | null;
  previousLabel?: string;
}) {
  const trend = downtimeTrend(stats.p95_seconds, previousP95);
  const figures: [string, string, string][] = [
    ["p95", formatDuration(stats.p95_seconds), "downtime-p95"],
    ["Average", formatDuration(stats.avg_seconds), "downtime-avg"],
    ["Min", formatDuration(stats.min_seconds), "downtime-min"],
    ["Max", formatDuration(stats.max_seconds), "downtime-max"],
    ["Success rate", formatRatio(stats.success_rate), "downtime-success-rate"],
  ];
  return (
    <Card
      title="Switch downtime"
      description={`Last ${stats.window_hours} h · ${stats.switches} switches, ${stats.successful} successful, ${stats.measured} measured`}
      testId="downtime-card"
      actions={
        stats.meets_target === null ? null : (
          <Badge tone={stats.meets_target ? "good" : "bad"}>
            {stats.meets_target ? "meets" : "misses"} p95 target {formatDuration(stats.target_p95_seconds)}
          </Badge>
        )
      }
    >
      {stats.switches === 0 ? (
        <EmptyState title="No switches in this window" hint="Downtime is measured when an agent switches instances." />
      ) : (
        <dl className="grid grid-cols-2 gap-3 sm:grid-cols-5">
          {figures.map(([label, value, testId]) => (
            <div key={label}>
              <dt className="text-xs text-slate-500">{label}</dt>
              <dd className="text-lg font-semibold tabular" data-testid={testId}>
                {value}
              </dd>
            </div>
          ))}
        </dl>
      )}
      {trend && (
        <p className="mt-2 text-xs text-slate-600" data-testid="downtime-trend">
          p95 vs {previousLabel}: {TREND_TEXT[trend]} (was {formatDuration(previousP95)})
        </p>
      )}
    </Card>
  );
}
