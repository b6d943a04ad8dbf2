// A metric's history with its threshold, and the forecast continuing it: the predicted path with its
// uncertainty band and the predicted breach time.
import { Area, CartesianGrid, ComposedChart, Line, ReferenceLine, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { shortTime } from "./charts";

export interface SeriesPoint {
  ts: string;
  value: number;
  min?: number;
  max?: number;
}

export interface ForecastPoint {
  ts: string;
  value: number;
  lower: number;
  upper: number;
}

export interface MetricRow {
  t: number;
  value?: number;
  forecast?: number;
  band?: [number, number];
}

/** Merge history and forecast on one time axis; the forecast starts at the last observed point so the lines join. */
export function mergeSeries(history: SeriesPoint[], forecast: ForecastPoint[]): MetricRow[] {
  const rows: MetricRow[] = history.map((p) => ({ t: new Date(p.ts).getTime(), value: p.value }));
  const last = rows[rows.length - 1];
  if (forecast.length && last && last.value !== undefined) {
    last.forecast = last.value;
    last.band = [last.value, last.value];
  }
  for (const p of forecast) {
    const t = new Date(p.ts).getTime();
    if (last && t <= last.t) continue;
    rows.push({ t, forecast: p.value, band: [p.lower, p.upper] });
  }
  return rows.sort((a, b) => a.t - b.t);
}

/** Round an axis maximum up to 1, 2 or 5 times a power of ten (115.7 → 200, 94.5 → 100). */
export function niceCeiling(value: number): number {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  const step = [1, 2, 5, 10].find((m) => m * power >= value) ?? 10;
  return step * power;
}

export function MetricChart({
  label,
  unit,
  history,
  forecast = [],
  threshold,
  breachAt,
  testId,
}: {
  label: string;
  unit: string;
  history: SeriesPoint[];
  forecast?: ForecastPoint[];
  threshold?: number | null;
  breachAt?: string | null;
  testId?: string;
}) {
  const data = mergeSeries(history, forecast);
  const breach = breachAt ? new Date(breachAt).getTime() : null;
  const summary = `${label}: ${history.length} points${threshold != null ? `, threshold ${threshold} ${unit}` : ""}${breachAt ? `, breach predicted at ${shortTime(breachAt)}` : ""}.`;
  return (
    <figure aria-label={label} data-testid={testId} className="w-full">
      <div style={{ height: 240 }} aria-hidden>
        <ResponsiveContainer width="100%" height="100%">
          <ComposedChart data={data} margin={{ top: 8, right: 8, bottom: 0, left: 0 }}>
            <CartesianGrid strokeDasharray="3 3" stroke="#e2e8f0" />
            <XAxis dataKey="t" type="number" scale="time" domain={["dataMin", "dataMax"]} tickFormatter={(v: number) => shortTime(new Date(v).toISOString())} tick={{ fontSize: 11, fill: "#64748b" }} minTickGap={32} />
            <YAxis tick={{ fontSize: 11, fill: "#64748b" }} width={52} label={{ value: unit, angle: -90, position: "insideLeft", style: { fontSize: 11, fill: "#64748b" } }} domain={[0, (max: number) => niceCeiling(Math.max(max, threshold ?? 0) * 1.05)]} />
            <Tooltip labelFormatter={(v) => shortTime(new Date(Number(v)).toISOString())} formatter={(v) => (Array.isArray(v) ? `${Number(v[0]).toFixed(1)}–${Number(v[1]).toFixed(1)} ${unit}` : `${Number(v).toFixed(1)} ${unit}`)} />
            <Area dataKey="band" name="Forecast range" stroke="none" fill="#f59e0b" fillOpacity={0.18} isAnimationActive={false} connectNulls />
            <Line dataKey="value" name="Observed" stroke="#2563eb" dot={false} isAnimationActive={false} connectNulls />
            <Line dataKey="forecast" name="Forecast" stroke="#d97706" strokeDasharray="5 4" dot={false} isAnimationActive={false} connectNulls />
            {threshold != null && <ReferenceLine y={threshold} stroke="#dc2626" strokeDasharray="4 4" label={{ value: `threshold ${threshold}`, fontSize: 11, position: "insideTopLeft" }} />}
            {breach !== null && <ReferenceLine x={breach} stroke="#dc2626" label={{ value: "breach", fontSize: 11, position: "insideTopRight" }} />}
          </ComposedChart>
        </ResponsiveContainer>
      </div>
      <figcaption className="sr-only">{summary}</figcaption>
    </figure>
  );
}
