// Recharts wrappers with the app's axes, units and an accessible summary (charts are images to screen
// readers, so each one carries a text description of what it shows).
import type { ReactNode } from "react";
import {
  Area,
  AreaChart,
  Bar,
  BarChart,
  CartesianGrid,
  Legend,
  Line,
  LineChart,
  ReferenceLine,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from "recharts";

export const COLORS = ["#15803d", "#2563eb", "#d97706", "#dc2626", "#7c3aed", "#0891b2"];

export interface SeriesSpec {
  key: string;
  label: string;
  color?: string;
  dashed?: boolean;
}

function ChartFrame({ label, summary, height, children, testId }: { label: string; summary: string; height: number; children: ReactNode; testId?: string }) {
  return (
    <figure data-testid={testId} aria-label={label} className="w-full">
      <div style={{ height }} className="w-full" aria-hidden>
        {children}
      </div>
      <figcaption className="sr-only">{summary}</figcaption>
    </figure>
  );
}

const axisTick = { fontSize: 11, fill: "#64748b" };

export function LineSeriesChart<T extends object>({
  data,
  xKey,
  series,
  label,
  summary,
  unit,
  height = 240,
  formatX,
  formatY,
  reference,
  testId,
  kind = "line",
}: {
  data: T[];
  xKey: string;
  series: SeriesSpec[];
  label: string;
  summary: string;
  unit: string;
  height?: number;
  formatX?: (value: unknown) => string;
  formatY?: (value: number) => string;
  reference?: { y: number; label: string; color?: string };
  testId?: string;
  kind?: "line" | "area";
}) {
  const tooltipFormatter = (value: unknown) => {
    const n = typeof value === "number" ? value : Number(value);
    return `${formatY ? formatY(n) : n} ${unit}`.trim();
  };
  const common = (
    <>
      <CartesianGrid strokeDasharray="3 3" stroke="#e2e8f0" />
      <XAxis dataKey={xKey} tick={axisTick} tickFormatter={formatX} minTickGap={24} />
      <YAxis tick={axisTick} tickFormatter={formatY} width={64} label={{ value: unit, angle: -90, position: "insideLeft", style: { fontSize: 11, fill: "#64748b" } }} />
      <Tooltip formatter={tooltipFormatter} labelFormatter={formatX ? (v) => formatX(v) : undefined} />
      {series.length > 1 && <Legend wrapperStyle={{ fontSize: 12 }} />}
      {reference && <ReferenceLine y={reference.y} stroke={reference.color ?? "#dc2626"} strokeDasharray="4 4" label={{ value: reference.label, fontSize: 11, position: "insideTopRight" }} />}
    </>
  );
  return (
    <ChartFrame label={label} summary={summary} height={height} testId={testId}>
      <ResponsiveContainer width="100%" height="100%">
        {kind === "area" ? (
          <AreaChart data={data} margin={{ top: 8, right: 8, bottom: 0, left: 0 }}>
            {common}
            {series.map((s, i) => (
              <Area key={s.key} type="monotone" dataKey={s.key} name={s.label} stroke={s.color ?? COLORS[i % COLORS.length]} fill={s.color ?? COLORS[i % COLORS.length]} fillOpacity={0.15} isAnimationActive={false} connectNulls />
            ))}
          </AreaChart>
        ) : (
          <LineChart data={data} margin={{ top: 8, right: 8, bottom: 0, left: 0 }}>
            {common}
            {series.map((s, i) => (
              <Line key={s.key} type="monotone" dataKey={s.key} name={s.label} stroke={s.color ?? COLORS[i % COLORS.length]} strokeDasharray={s.dashed ? "4 4" : undefined} dot={false} isAnimationActive={false} connectNulls />
            ))}
          </LineChart>
        )}
      </ResponsiveContainer>
    </ChartFrame>
  );
}

export function BarSeriesChart<T extends object>({
  data,
  xKey,
  series,
  label,
  summary,
  unit,
  height = 240,
  formatX,
  formatY,
  stacked = false,
  testId,
}: {
  data: T[];
  xKey: string;
  series: SeriesSpec[];
  label: string;
  summary: string;
  unit: string;
  height?: number;
  formatX?: (value: unknown) => string;
  formatY?: (value: number) => string;
  stacked?: boolean;
  testId?: string;
}) {
  return (
    <ChartFrame label={label} summary={summary} height={height} testId={testId}>
      <ResponsiveContainer width="100%" height="100%">
        <BarChart data={data} margin={{ top: 8, right: 8, bottom: 0, left: 0 }}>
          <CartesianGrid strokeDasharray="3 3" stroke="#e2e8f0" />
          <XAxis dataKey={xKey} tick={axisTick} tickFormatter={formatX} minTickGap={16} />
          <YAxis tick={axisTick} tickFormatter={formatY} width={64} label={{ value: unit, angle: -90, position: "insideLeft", style: { fontSize: 11, fill: "#64748b" } }} />
          <Tooltip formatter={(v) => `${formatY ? formatY(Number(v)) : String(v)} ${unit}`} />
          {series.length > 1 && <Legend wrapperStyle={{ fontSize: 12 }} />}
          {series.map((s, i) => (
            <Bar key={s.key} dataKey={s.key} name={s.label} fill={s.color ?? COLORS[i % COLORS.length]} stackId={stacked ? "stack" : undefined} isAnimationActive={false} />
          ))}
        </BarChart>
      </ResponsiveContainer>
    </ChartFrame>
  );
}

export function shortDate(value: unknown): string {
  const d = new Date(String(value));
  return Number.isNaN(d.getTime()) ? String(value) : d.toLocaleDateString("en-GB", { month: "short", day: "numeric" });
}

export function shortTime(value: unknown): string {
  const d = new Date(String(value));
  return Number.isNaN(d.getTime()) ? String(value) : d.toLocaleString("en-GB", { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}
