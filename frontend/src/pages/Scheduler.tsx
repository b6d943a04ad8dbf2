import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Area, CartesianGrid, ComposedChart, Line, ReferenceArea, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { api, unwrap } from "../api";
import { ClientPicker, useTenant } from "../auth/tenant";
import { shortTime } from "../components/charts";
import { EmptyState, QueryView } from "../components/states";
import { Badge, Card, PageHeader, SelectField, TextField } from "../components/ui";
import { useEventStream } from "../hooks/useEventStream";
import { formatDateTime, formatIntensity, formatPercent } from "../lib/format";
import { bestWindows, runNowMean } from "../lib/windows";
import { SchedulerJobs, type ScheduledJob } from "./SchedulerJobs";

const WINDOW_COLORS = ["#16a34a", "#65a30d", "#0d9488"];

export function Scheduler() {
  const [zone, setZone] = useState("");
  const [jobHours, setJobHours] = useState("3");
  const [shown, setShown] = useState<ScheduledJob | null>(null);
  useEventStream(["carbon.intensity", "carbon.scheduler"]);
  const { clientId } = useTenant();
  const zones = useQuery({ queryKey: ["carbon.intensity", "zones"], queryFn: () => unwrap(api.GET("/api/carbon/intensity/zones")) });
  // Start on the grid the fleet emits most on (the dashboard's region with the largest CO2e), not on whichever
  // zone sorts first; the user can pick any other.
  const dashboard = useQuery({
    queryKey: ["carbon", "dashboard", clientId],
    queryFn: () => unwrap(api.GET("/api/dashboard", { params: { query: { client_id: clientId } } })),
  });
  const known = new Set((zones.data ?? []).map((z) => z.zone));
  const zoneOf = new Map((dashboard.data?.intensity ?? []).map((r) => [r.region, r.zone]));
  const fleetZone = [...(dashboard.data?.by_region ?? [])]
    .sort((a, b) => b.co2e_kg - a.co2e_kg)
    .map((r) => zoneOf.get(r.key ?? r.name))
    .find((z): z is string => !!z && known.has(z));
  const chosen = zone || fleetZone || zones.data?.[0]?.zone || "";
  const forecast = useQuery({
    queryKey: ["carbon.intensity", "forecast", chosen],
    queryFn: () => unwrap(api.GET("/api/scheduler/forecast", { params: { query: { zone: chosen, hours: 24 } } })),
    enabled: !!chosen,
    refetchInterval: 15 * 60_000,
  });
  const duration = Math.max(1, Math.min(24, Math.round(Number(jobHours) || 1)));

  return (
    <>
      <PageHeader
        title="Scheduler"
        description="Run flexible work when the grid is cleanest: the next 24 hours of forecast carbon intensity (mean ± one standard deviation) and the lowest-carbon windows for a job of the length you give."
        actions={
          <>
            <ClientPicker />
            {(zones.data?.length ?? 0) > 0 && (
              <SelectField label="Grid zone" value={chosen} onChange={(e) => setZone(e.target.value)} options={(zones.data ?? []).map((z) => ({ value: z.zone, label: z.zone }))} data-testid="zone-picker" />
            )}
            <TextField label="Window length" unit="h" type="number" min={1} max={24} value={jobHours} onChange={(e) => setJobHours(e.target.value)} className="w-28" data-testid="job-hours" />
          </>
        }
      />
      {zones.isSuccess && zones.data.length === 0 && <EmptyState title="No carbon-intensity data imported" hint="Import Electricity Maps CSV files (spectra import intensity) or configure a live provider in Settings." />}
      {chosen && (
        <Card title={`24 h forecast · ${chosen}`} testId="intensity-forecast">
          <QueryView query={forecast} isEmpty={(f) => f.points.length === 0} empty={<EmptyState title="Not enough history to forecast this zone" />}>
            {(f) => {
              const points = f.points.map((p) => ({ hour: p.hour, mean: p.mean_g_per_kwh }));
              const windows = bestWindows(points, duration, 3);
              const now = runNowMean(points, duration);
              const data = f.points.map((p) => ({
                t: new Date(p.hour).getTime(),
                mean: p.mean_g_per_kwh,
                band: [Math.max(0, p.mean_g_per_kwh - p.std_g_per_kwh), p.mean_g_per_kwh + p.std_g_per_kwh] as [number, number],
              }));
              return (
                <>
                  <figure aria-label={`Forecast carbon intensity of ${chosen} for the next 24 hours`} data-testid="forecast-chart">
                    <div style={{ height: 280 }} aria-hidden>
                      <ResponsiveContainer width="100%" height="100%">
                        <ComposedChart data={data} margin={{ top: 8, right: 8, bottom: 0, left: 0 }}>
                          <CartesianGrid strokeDasharray="3 3" stroke="#e2e8f0" />
                          <XAxis dataKey="t" type="number" scale="time" domain={["dataMin", "dataMax"]} tickFormatter={(v: number) => shortTime(new Date(v).toISOString())} tick={{ fontSize: 11, fill: "#64748b" }} minTickGap={32} />
                          <YAxis tick={{ fontSize: 11, fill: "#64748b" }} width={56} label={{ value: "gCO2e/kWh", angle: -90, position: "insideLeft", style: { fontSize: 11, fill: "#64748b" } }} />
                          <Tooltip labelFormatter={(v) => shortTime(new Date(Number(v)).toISOString())} formatter={(v) => (Array.isArray(v) ? `${Math.round(Number(v[0]))}–${Math.round(Number(v[1]))} gCO2e/kWh` : `${Math.round(Number(v))} gCO2e/kWh`)} />
                          {windows.map((w, i) => (
                            <ReferenceArea key={w.start} x1={new Date(w.start).getTime()} x2={new Date(w.end).getTime() - 3_600_000} fill={WINDOW_COLORS[i]} fillOpacity={i === 0 ? 0.22 : 0.1} label={{ value: i === 0 ? "best" : `#${i + 1}`, fontSize: 11, position: "insideTop" }} />
                          ))}
                          {shown?.recommendation.start && shown.recommendation.end && (
                            <ReferenceArea x1={new Date(shown.recommendation.start).getTime()} x2={new Date(shown.recommendation.end).getTime()} stroke="#2563eb" strokeDasharray="4 4" fill="#2563eb" fillOpacity={0.08} label={{ value: shown.name, fontSize: 11, position: "insideBottom" }} />
                          )}
                          <Area dataKey="band" name="± 1 std" stroke="none" fill="#64748b" fillOpacity={0.15} isAnimationActive={false} />
                          <Line dataKey="mean" name="Forecast" stroke="#0f172a" dot={false} isAnimationActive={false} />
                        </ComposedChart>
                      </ResponsiveContainer>
                    </div>
                    <figcaption className="sr-only">
                      {`Forecast from ${formatIntensity(Math.min(...points.map((p) => p.mean)))} to ${formatIntensity(Math.max(...points.map((p) => p.mean)))}; best ${duration}-hour window starts ${windows[0] ? formatDateTime(windows[0].start) : "—"}.`}
                    </figcaption>
                  </figure>
                  <p className="mt-1 text-xs text-slate-500">
                    {f.method} · from {f.history_hours} h of history up to {formatDateTime(f.last_observed_hour)} · generated {formatDateTime(f.generated_at)}
                  </p>
                  <h3 className="mb-2 mt-4 text-sm font-semibold text-slate-700">Recommended windows for a {duration} h job</h3>
                  {windows.length === 0 ? (
                    <EmptyState title="The job is longer than the forecast" />
                  ) : (
                    <ol className="grid gap-2 md:grid-cols-3" data-testid="recommended-windows">
                      {windows.map((w, i) => (
                        <li key={w.start} className="rounded-md border border-slate-200 p-3 text-sm" data-testid={`window-${i}`}>
                          <div className="flex items-center justify-between">
                            <span className="font-medium">{formatDateTime(w.start)}</span>
                            {i === 0 && <Badge tone="good">best</Badge>}
                          </div>
                          <div className="text-slate-600">until {formatDateTime(w.end)}</div>
                          <div className="mt-1 tabular">
                            mean {formatIntensity(w.meanGPerKwh)}
                            {now !== null && now > 0 && <span className="text-brand-700"> · {formatPercent((100 * (now - w.meanGPerKwh)) / now, 0)} below running now</span>}
                          </div>
                        </li>
                      ))}
                    </ol>
                  )}
                  <p className="mt-2 text-xs text-slate-500">Windows are the start hours with the lowest mean forecast intensity over the job's length, without overlapping each other. Running now averages {formatIntensity(now)}.</p>
                </>
              );
            }}
          </QueryView>
        </Card>
      )}
      <SchedulerJobs onShow={setShown} />
    </>
  );
}
