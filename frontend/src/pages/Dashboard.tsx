import { useQuery } from "@tanstack/react-query";
import { api, unwrap } from "../api";
import type { ResponseOf } from "../api/client";
import { ClientPicker, useTenant } from "../auth/tenant";
import { BarSeriesChart, LineSeriesChart, shortDate } from "../components/charts";
import { DataTable } from "../components/DataTable";
import { EmptyState, QueryView } from "../components/states";
import { Badge, Card, PageHeader, StatCard } from "../components/ui";
import { useEventStream } from "../hooks/useEventStream";
import { axisNumber, formatCo2e, formatDateTime, formatIntensity, formatNumber, formatPercent, formatRatio, formatUsd } from "../lib/format";
import { humanize } from "../lib/labels";

type DashboardData = ResponseOf<"/api/dashboard", "get">;

const STATUS_TONE: Record<string, "good" | "warn" | "bad"> = { on_track: "good", at_risk: "warn", over: "bad" };

function Slices({ rows, caption, testId }: { rows: DashboardData["by_team"]; caption: string; testId: string }) {
  if (rows.length === 0) return <EmptyState title="No emissions this month yet" />;
  return (
    <DataTable
      caption={caption}
      testId={testId}
      rows={rows}
      rowKey={(s) => s.key ?? s.name}
      columns={[
        { key: "name", header: "Name", render: (s) => s.name },
        { key: "co2e", header: "CO2e", align: "right", render: (s) => formatCo2e(s.co2e_kg) },
        { key: "share", header: "Share", align: "right", render: (s) => formatRatio(s.share, 0) },
        { key: "kwh", header: "Energy", align: "right", render: (s) => `${formatNumber(s.kwh, 1)}\u202fkWh` },
        { key: "cost", header: "Cost", align: "right", render: (s) => formatUsd(s.cost_usd) },
      ]}
    />
  );
}

function View({ d }: { d: DashboardData }) {
  const savings = d.savings as { co2e_kg?: number; cost_usd?: number; actions?: number };
  const scopes = [
    { scope: "Scope 1", kg: d.by_scope.scope1_kg },
    { scope: "Scope 2 (location)", kg: d.by_scope.scope2_location_kg },
    { scope: "Scope 2 (market)", kg: d.by_scope.scope2_market_kg },
    { scope: "Scope 3", kg: d.by_scope.scope3_kg },
  ];
  return (
    <>
      <div className="mb-4 grid grid-cols-2 gap-3 lg:grid-cols-5">
        <StatCard label="CO2e today" value={formatCo2e(d.today.co2e_kg)} hint={`market-based ${formatCo2e(d.today.co2e_market_kg)}`} testId="co2e-today" />
        <StatCard label="CO2e this month" value={formatCo2e(d.month.co2e_kg)} hint={`market-based ${formatCo2e(d.month.co2e_market_kg)}`} testId="co2e-month" />
        <StatCard label="Energy this month" value={`${formatNumber(d.month.kwh, 1)}\u202fkWh`} hint={`${formatNumber(d.month.instance_hours, 0)} instance-hours`} testId="energy-month" />
        <StatCard label="Cost this month" value={formatUsd(d.month.cost_usd)} testId="cost-month" />
        <StatCard
          label="Saved by actions this month"
          value={savings.co2e_kg !== undefined ? formatCo2e(savings.co2e_kg) : null}
          hint={savings.cost_usd !== undefined ? `${formatUsd(savings.cost_usd)} · ${savings.actions ?? 0} actions` : "no recorded actions"}
          tone="good"
          testId="savings-month"
        />
      </div>
      <p className="mb-4 text-xs text-slate-500">
        CO2e = location-based operational + embodied. As of {formatDateTime(d.as_of)}; emissions stored up to {d.last_computed_day ?? "—"}.
      </p>
      <div className="mb-4 grid gap-4 xl:grid-cols-3">
        <Card title="Scope breakdown, month to date" testId="scope-breakdown" className="xl:col-span-1">
          {scopes.every((s) => s.kg === 0) ? (
            <EmptyState title="No emissions this month yet" hint="The hourly emissions job computes them from usage and grid intensity." />
          ) : (
          <BarSeriesChart
            label="CO2e by scope this month"
            summary={scopes.map((s) => `${s.scope}: ${formatCo2e(s.kg)}`).join("; ")}
            data={scopes}
            xKey="scope"
            series={[{ key: "kg", label: "CO2e" }]}
            unit="kg CO2e"
            formatY={axisNumber}
            height={220}
          />
          )}
          <ul className="mt-2 grid grid-cols-2 gap-1 text-sm">
            {scopes.map((s) => (
              <li key={s.scope}>
                <span className="text-slate-500">{s.scope}:</span> <span className="tabular">{formatCo2e(s.kg)}</span>
              </li>
            ))}
          </ul>
        </Card>
        <Card title="Last 30 days" testId="co2e-trend" className="xl:col-span-2">
          {d.last_30_days.every((p) => p.co2e_kg === 0 && p.co2e_market_kg === 0) ? (
            <EmptyState title="No daily emissions yet" />
          ) : (
            <LineSeriesChart
              kind="area"
              label="Daily CO2e, last 30 days"
              summary={`${d.last_30_days.length} days; total ${formatCo2e(d.last_30_days.reduce((s, p) => s + p.co2e_kg, 0))}.`}
              data={d.last_30_days}
              xKey="day"
              series={[
                { key: "co2e_kg", label: "Location-based", color: "#15803d" },
                { key: "co2e_market_kg", label: "Market-based", color: "#2563eb" },
              ]}
              unit="kg CO2e"
              formatX={shortDate}
              formatY={axisNumber}
            />
          )}
        </Card>
      </div>
      <div className="mb-4 grid gap-4 xl:grid-cols-2">
        <Card
          title={`Budgets · Q${d.budgets.quarter} ${d.budgets.year}`}
          testId="budget-overview"
          actions={
            <span className="flex gap-1">
              <Badge tone="good">{d.budgets.on_track} on track</Badge>
              <Badge tone="warn">{d.budgets.at_risk} at risk</Badge>
              <Badge tone="bad">{d.budgets.over} over</Badge>
            </span>
          }
        >
          {d.budgets.budgets.length === 0 ? (
            <EmptyState title="No budgets this quarter" hint="Set team budgets on the Budgets page." />
          ) : (
            <ul className="space-y-2">
              {d.budgets.budgets.map((b) => (
                <li key={b.budget_id} className="text-sm">
                  <div className="flex justify-between">
                    <span className="font-medium">{b.team_name}</span>
                    <span className="tabular text-slate-600">
                      {formatCo2e(b.consumed_co2e_kg)} of {formatCo2e(b.budget_co2e_kg)} · <Badge tone={STATUS_TONE[b.status] ?? "neutral"}>{humanize(b.status)}</Badge>
                    </span>
                  </div>
                  <div
                    className="mt-1 h-2 overflow-hidden rounded bg-slate-200"
                    role="meter"
                    aria-valuemin={0}
                    aria-valuemax={100}
                    aria-valuenow={Math.round(b.pct_used)}
                    aria-label={`${b.team_name}: ${formatPercent(b.pct_used)} of the budget used`}
                  >
                    <div className={STATUS_TONE[b.status] === "bad" ? "h-full bg-red-600" : STATUS_TONE[b.status] === "warn" ? "h-full bg-amber-500" : "h-full bg-brand-600"} style={{ width: `${Math.min(100, b.pct_used)}%` }} />
                  </div>
                </li>
              ))}
            </ul>
          )}
        </Card>
        <Card title="Grid intensity now" testId="intensity-now" description="Latest hourly location-based intensity of each region in use">
          {d.intensity.length === 0 ? (
            <EmptyState title="No intensity data for your regions" />
          ) : (
            <DataTable
              caption="Grid intensity per region"
              rows={d.intensity}
              rowKey={(r) => r.region}
              columns={[
                { key: "region", header: "Region", render: (r) => <div><div className="font-medium">{r.region}</div><div className="text-xs text-slate-500">{r.zone ?? "no zone"}</div></div> },
                { key: "g", header: "Intensity", align: "right", render: (r) => formatIntensity(r.g_per_kwh) },
                { key: "ren", header: "Renewable", align: "right", render: (r) => formatPercent(r.renewable_pct, 0) },
                { key: "at", header: "At", render: (r) => <span className="text-xs">{formatDateTime(r.at)}</span> },
              ]}
            />
          )}
        </Card>
      </div>
      <div className="mb-4 grid gap-4 xl:grid-cols-2">
        <Card title="By team, month to date">
          <Slices rows={d.by_team} caption="CO2e by team" testId="by-team" />
        </Card>
        <Card title="By region, month to date">
          <Slices rows={d.by_region} caption="CO2e by region" testId="by-region" />
        </Card>
      </div>
      <Card title="Top emitters this month" testId="top-emitters">
        {d.top_emitters.length === 0 ? (
          <EmptyState title="No emitters yet" />
        ) : (
          <DataTable
            caption="Top emitting instances"
            rows={d.top_emitters}
            rowKey={(e) => e.instance_id}
            columns={[
              { key: "name", header: "Instance", render: (e) => <div><div className="font-medium">{e.name ?? e.provider_id ?? e.instance_id}</div><div className="text-xs text-slate-500">{e.team_name ?? "no team"}</div></div> },
              { key: "type", header: "Type / region", render: (e) => `${e.instance_type} · ${e.region}` },
              { key: "co2e", header: "CO2e", align: "right", render: (e) => formatCo2e(e.co2e_kg) },
              { key: "kwh", header: "Energy", align: "right", render: (e) => `${formatNumber(e.kwh, 1)}\u202fkWh` },
              { key: "cost", header: "Cost", align: "right", render: (e) => formatUsd(e.cost_usd) },
            ]}
          />
        )}
      </Card>
    </>
  );
}

export function Dashboard() {
  const { clientId } = useTenant();
  useEventStream(["carbon.", "budget"]);
  const dashboard = useQuery({
    queryKey: ["carbon", "dashboard", clientId],
    queryFn: () => unwrap(api.GET("/api/dashboard", { params: { query: { client_id: clientId } } })),
    meta: { topics: ["budget"] },
    refetchInterval: 60_000, // live CO2e: the hourly emissions job publishes no event
  });
  return (
    <>
      <PageHeader title="Dashboard" description="Live CO2e of your fleet, its scope breakdown, budgets, grid intensity where you run, and what the optimisations saved." actions={<ClientPicker />} />
      <QueryView query={dashboard}>{(d) => <View d={d} />}</QueryView>
    </>
  );
}
