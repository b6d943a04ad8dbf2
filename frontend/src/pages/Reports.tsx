import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { api, unwrap } from "../api";
import { ClientPicker, useTenant } from "../auth/tenant";
import { BarSeriesChart } from "../components/charts";
import { DataTable } from "../components/DataTable";
import { EmptyState, ErrorState, QueryView } from "../components/states";
import { Button, Card, PageHeader, StatCard, TextField } from "../components/ui";
import { useEventStream } from "../hooks/useEventStream";
import { download } from "../lib/download";
import { axisNumber, formatCo2e, formatNumber, formatPercent, formatUsd } from "../lib/format";

function isoDate(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/** The default report period: the current calendar month up to today (UTC). */
export function defaultPeriod(now = new Date()): { start: string; end: string } {
  const start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  return { start: isoDate(start), end: isoDate(now) };
}

export function Reports() {
  const { clientId } = useTenant();
  const [period, setPeriod] = useState(defaultPeriod);
  const [exporting, setExporting] = useState<"csv" | "pdf" | null>(null);
  const [exportError, setExportError] = useState<unknown>(null);
  useEventStream(["carbon.action", "carbon.intensity"]);
  const query = { start: period.start || null, end: period.end || null, client_id: clientId };
  const summary = useQuery({ queryKey: ["carbon.report", "summary", query], queryFn: () => unwrap(api.GET("/api/reports/summary", { params: { query } })), meta: { topics: ["carbon.action", "carbon.intensity"] }, refetchInterval: 5 * 60_000 });
  const history = useQuery({
    queryKey: ["carbon.report", "history", clientId],
    queryFn: () => unwrap(api.GET("/api/reports/history", { params: { query: { months: 12, client_id: clientId } } })),
    meta: { topics: ["carbon.action", "carbon.intensity"] },
  });

  const exportAs = async (format: "csv" | "pdf") => {
    setExporting(format);
    setExportError(null);
    try {
      await download(api.GET("/api/reports/export", { params: { query: { ...query, format } }, parseAs: "blob" }), `spectra-esg-report-${period.start}-${period.end}.${format}`);
    } catch (error) {
      setExportError(error);
    } finally {
      setExporting(null);
    }
  };

  const s = summary.data;
  return (
    <>
      <PageHeader
        title="Reports"
        description="Scope 1, 2 and 3 emissions of the period (GHG Protocol; Scope 2 both location- and market-based), by team and region, with the method and its inputs. Export as CSV or PDF."
        actions={<ClientPicker />}
      />
      <Card className="mb-4">
        <form className="flex flex-wrap items-end gap-3" onSubmit={(e) => e.preventDefault()} aria-label="Report period">
          <TextField label="From" type="date" value={period.start} max={period.end} onChange={(e) => setPeriod({ ...period, start: e.target.value })} data-testid="report-start" />
          <TextField label="To" type="date" value={period.end} min={period.start} onChange={(e) => setPeriod({ ...period, end: e.target.value })} data-testid="report-end" />
          <Button variant="secondary" busy={exporting === "csv"} disabled={exporting !== null} onClick={() => void exportAs("csv")} data-testid="export-csv">
            Export CSV
          </Button>
          <Button variant="secondary" busy={exporting === "pdf"} disabled={exporting !== null} onClick={() => void exportAs("pdf")} data-testid="export-pdf">
            Export PDF
          </Button>
        </form>
        {exportError !== null && <ErrorState error={exportError} title="Export failed" />}
      </Card>
      {summary.isError && <ErrorState error={summary.error} onRetry={() => void summary.refetch()} />}
      <div className="mb-4 grid grid-cols-2 gap-3 lg:grid-cols-5">
        <StatCard label="Scope 1" value={s ? formatCo2e(s.scope1.co2e_kg) : null} hint={s?.scope1.method} testId="scope1" />
        <StatCard label="Scope 2 (location)" value={s ? formatCo2e(s.scope2.location_based_kg) : null} hint={s ? `${formatNumber(s.scope2.kwh, 1)}\u202fkWh` : undefined} testId="scope2-location" />
        <StatCard label="Scope 2 (market)" value={s ? formatCo2e(s.scope2.market_based_kg) : null} testId="scope2-market" />
        <StatCard label="Scope 3 (embodied)" value={s ? formatCo2e(s.scope3.embodied_kg) : null} testId="scope3" />
        <StatCard label="Total (location)" value={s ? formatCo2e(s.total_location_based_kg) : null} hint={s ? `${formatUsd(s.cost_usd)} over ${s.days} days` : undefined} testId="total-location" />
      </div>
      <div className="mb-4 grid gap-4 xl:grid-cols-2">
        <Card title="By team" testId="report-by-team">
          <QueryView query={summary} isEmpty={(r) => r.by_team.length === 0} empty={<EmptyState title="No emissions in this period" />}>
            {(r) => (
              <DataTable
                caption="Emissions by team"
                rows={r.by_team}
                rowKey={(b) => b.key ?? b.name}
                columns={[
                  { key: "name", header: "Team", render: (b) => b.name },
                  { key: "kwh", header: "Energy", align: "right", render: (b) => `${formatNumber(b.kwh, 1)}\u202fkWh` },
                  { key: "loc", header: "Location-based", align: "right", render: (b) => formatCo2e(b.location_based_kg) },
                  { key: "mkt", header: "Market-based", align: "right", render: (b) => formatCo2e(b.market_based_kg) },
                  { key: "emb", header: "Embodied", align: "right", render: (b) => formatCo2e(b.embodied_kg) },
                  { key: "cost", header: "Cost", align: "right", render: (b) => formatUsd(b.cost_usd) },
                ]}
              />
            )}
          </QueryView>
        </Card>
        <Card title="By region" testId="report-by-region">
          <QueryView query={summary} isEmpty={(r) => r.by_region.length === 0} empty={<EmptyState title="No emissions in this period" />}>
            {(r) => (
              <DataTable
                caption="Emissions by region"
                rows={r.by_region}
                rowKey={(b) => b.key ?? b.name}
                columns={[
                  { key: "name", header: "Region", render: (b) => b.name },
                  { key: "kwh", header: "Energy", align: "right", render: (b) => `${formatNumber(b.kwh, 1)}\u202fkWh` },
                  { key: "loc", header: "Location-based", align: "right", render: (b) => formatCo2e(b.location_based_kg) },
                  { key: "total", header: "Total", align: "right", render: (b) => formatCo2e(b.total_kg) },
                  { key: "cost", header: "Cost", align: "right", render: (b) => formatUsd(b.cost_usd) },
                ]}
              />
            )}
          </QueryView>
        </Card>
      </div>
      <Card title="Last 12 months" className="mb-4" testId="report-history">
        <QueryView query={history} isEmpty={(h) => h.months.length === 0} empty={<EmptyState title="No monthly history yet" />}>
          {(h) => (
            <BarSeriesChart
              stacked
              label="Monthly emissions by scope, last 12 months"
              summary={h.months.map((m) => `${m.month}: ${formatCo2e(m.total_location_based_kg)}`).join("; ")}
              data={h.months}
              xKey="month"
              series={[
                { key: "scope1_kg", label: "Scope 1", color: "#d97706" },
                { key: "scope2_location_kg", label: "Scope 2 (location)", color: "#2563eb" },
                { key: "scope3_embodied_kg", label: "Scope 3 (embodied)", color: "#7c3aed" },
              ]}
              unit="kg CO2e"
              formatY={axisNumber}
            />
          )}
        </QueryView>
      </Card>
      {s && (
        <Card title="Method and inputs" testId="report-method">
          <dl className="grid gap-2 text-sm sm:grid-cols-2">
            {Object.entries(s.method).map(([k, v]) => (
              <div key={k}>
                <dt className="text-xs font-medium uppercase text-slate-500">{k}</dt>
                <dd className="text-slate-700">{v}</dd>
              </div>
            ))}
            <div>
              <dt className="text-xs font-medium uppercase text-slate-500">inputs</dt>
              <dd className="text-slate-700">
                {s.inputs.instances} instances, {formatNumber(s.inputs.instance_hours, 0)} instance-hours in {s.inputs.regions.length} regions; measured utilisation for {formatPercent(s.inputs.measured_utilisation_share * 100)} of hours; billed cost for {formatPercent(s.inputs.billed_cost_share * 100)}
              </dd>
            </div>
          </dl>
        </Card>
      )}
    </>
  );
}
