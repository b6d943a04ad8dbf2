import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api, unwrap } from "../api";
import type { ResponseOf } from "../api/client";
import { idempotencyHeaders, useAction } from "../api/actions";
import { ClientPicker, useTenant } from "../auth/tenant";
import { BarSeriesChart } from "../components/charts";
import { DataTable } from "../components/DataTable";
import { EmptyState, ErrorState, QueryView } from "../components/states";
import { Badge, Button, Card, PageHeader, SelectField, TextField } from "../components/ui";
import { useEventStream } from "../hooks/useEventStream";
import { axisNumber, formatCo2e, formatDateTime, formatIntensity, formatNumber, formatUsd, withUnit } from "../lib/format";
import { statusTone } from "../lib/labels";

type Ranked = ResponseOf<"/api/optimizer/regions", "get">["regions"][number];
type Migration = ResponseOf<"/api/migrations/{migration_id}", "get">;

interface RankingForm {
  workload: string;
  instance_type: string;
  users_region: string;
  max_latency_ms: string;
  w_carbon: string;
  w_latency: string;
  w_cost: string;
}

const DEFAULT_FORM: RankingForm = { workload: "", instance_type: "m5.large", users_region: "", max_latency_ms: "", w_carbon: "0.5", w_latency: "0.2", w_cost: "0.3" };

function signed(value: number | null | undefined, render: (v: number) => string): string {
  if (value === null || value === undefined) return "—";
  return value > 0 ? `+${render(value)}` : render(value);
}

function MigrationTool({ instances, ranking, clientId }: { instances: ResponseOf<"/api/instances", "get">["items"]; ranking: Ranked[]; clientId: string | null }) {
  const queryClient = useQueryClient();
  const [instanceId, setInstanceId] = useState("");
  const [toRegion, setToRegion] = useState("");
  const [plan, setPlan] = useState<Migration | null>(null);
  const run = useAction(
    (vars: { instance_id: string; to_region: string | null; dry_run: boolean }, key: string) =>
      unwrap(api.POST("/api/migrations/execute", { body: { ...vars, request_id: key, reason: "migration tool" }, headers: idempotencyHeaders(key) })),
    {
      onSuccess: (result, vars) => {
        setPlan(vars.dry_run ? (result as Migration) : null);
        if (!vars.dry_run) void queryClient.invalidateQueries({ queryKey: ["carbon.migration"] });
      },
    },
  );
  const submit = (e: FormEvent) => {
    e.preventDefault();
    run.mutate({ instance_id: instanceId, to_region: toRegion || null, dry_run: true });
  };
  const history = useQuery({
    queryKey: ["carbon.migration", "history", clientId],
    queryFn: () => unwrap(api.GET("/api/migrations/history", { params: { query: { client_id: clientId, limit: 20 } } })),
  });
  return (
    <Card title="Migration tool" description="Preview a move (a dry run shows the plan and its CO2e and cost change), then execute it." className="mb-4" testId="migration-tool">
      <form onSubmit={submit} className="grid gap-3 md:grid-cols-3 md:items-end" aria-label="Plan a migration">
        <SelectField
          label="Instance"
          value={instanceId}
          onChange={(e) => {
            setInstanceId(e.target.value);
            setPlan(null);
          }}
          options={[{ value: "", label: "Pick an instance" }, ...instances.map((i) => ({ value: i.id, label: `${i.name ?? i.provider_id} (${i.instance_type}, ${i.region})` }))]}
          required
          data-testid="migration-instance"
        />
        <SelectField
          label="To region"
          value={toRegion}
          onChange={(e) => {
            setToRegion(e.target.value);
            setPlan(null);
          }}
          options={[{ value: "", label: "Best ranked" }, ...ranking.map((r) => ({ value: r.code, label: `${r.name} (${formatIntensity(r.intensity_g_per_kwh)})` }))]}
          data-testid="migration-region"
        />
        <Button type="submit" variant="secondary" busy={run.isPending && run.variables?.dry_run} disabled={!instanceId} data-testid="migration-preview">
          Preview
        </Button>
      </form>
      {run.isError && <ErrorState error={run.error} title="Migration refused" />}
      {plan && (
        <div className="mt-3 rounded-md bg-slate-50 p-3 text-sm" data-testid="migration-plan">
          <p>
            <span className="font-medium">{plan.from_region}</span> → <span className="font-medium">{plan.to_region}</span>: CO2e {signed(plan.co2e_change_kg_per_month, formatCo2e)} per month, cost {signed(plan.cost_change_usd_per_month, (v) => formatUsd(v))} per month.
          </p>
          <Button className="mt-2" busy={run.isPending && !run.variables?.dry_run} onClick={() => run.mutate({ instance_id: instanceId, to_region: plan.to_region, dry_run: false })} data-testid="migration-execute">
            Execute migration
          </Button>
        </div>
      )}
      {run.isSuccess && !plan && run.variables && !run.variables.dry_run && (
        <p role="status" className="mt-2 text-sm text-brand-800">
          Migration started.
        </p>
      )}
      <h3 className="mb-1 mt-4 text-sm font-semibold text-slate-700">History</h3>
      <QueryView query={history} isEmpty={(h) => h.items.length === 0} empty={<EmptyState title="No migrations yet" />}>
        {(h) => (
          <DataTable
            caption="Migration history"
            rows={h.items}
            rowKey={(m) => m.id}
            rowTestId={(m) => `migration-${m.id}`}
            columns={[
              { key: "at", header: "Requested", render: (m) => <span className="whitespace-nowrap text-xs">{formatDateTime(m.requested_at)}</span> },
              { key: "what", header: "Move", render: (m) => `${m.from_region} → ${m.to_region}` },
              { key: "type", header: "Instance", render: (m) => <span className="text-xs">{m.instance_type ?? "—"}</span> },
              { key: "co2e", header: "CO2e / month", align: "right", render: (m) => signed(m.co2e_change_kg_per_month, formatCo2e) },
              { key: "cost", header: "Cost / month", align: "right", render: (m) => signed(m.cost_change_usd_per_month, (v) => formatUsd(v)) },
              { key: "status", header: "Status", render: (m) => <Badge tone={statusTone(m.status)}>{m.status}</Badge> },
            ]}
          />
        )}
      </QueryView>
    </Card>
  );
}

export function Regions() {
  const { clientId } = useTenant();
  const [form, setForm] = useState<RankingForm>(DEFAULT_FORM);
  const [applied, setApplied] = useState<RankingForm>(DEFAULT_FORM);
  useEventStream(["carbon.migration", "carbon.intensity"]);
  const instances = useQuery({
    queryKey: ["fleet.instance", "list", clientId],
    queryFn: () => unwrap(api.GET("/api/instances", { params: { query: { client_id: clientId, limit: 1000 } } })),
  });
  const query = {
    workload: applied.workload || null,
    instance_type: applied.workload ? null : applied.instance_type || null,
    users_region: applied.users_region || null,
    max_latency_ms: applied.max_latency_ms ? Number(applied.max_latency_ms) : null,
    w_carbon: Number(applied.w_carbon),
    w_latency: Number(applied.w_latency),
    w_cost: Number(applied.w_cost),
  };
  const ranking = useQuery({
    queryKey: ["carbon.intensity", "ranking", query],
    queryFn: () => unwrap(api.GET("/api/optimizer/regions", { params: { query } })),
  });
  const set = (k: keyof RankingForm) => (e: { target: { value: string } }) => setForm({ ...form, [k]: e.target.value });

  return (
    <>
      <PageHeader
        title="Regions"
        description="Where a workload emits least: each region's carbon intensity over the window, latency to your users and cost, combined with your weights. Move an instance with the migration tool."
        actions={<ClientPicker />}
      />
      <Card className="mb-4">
        <form
          className="grid gap-3 sm:grid-cols-2 lg:grid-cols-4 lg:items-end"
          onSubmit={(e) => {
            e.preventDefault();
            setApplied(form);
          }}
          aria-label="Rank regions"
        >
          <SelectField
            label="Workload"
            value={form.workload}
            onChange={set("workload")}
            options={[{ value: "", label: "Any instance of a type" }, ...(instances.data?.items ?? []).map((i) => ({ value: i.id, label: `${i.name ?? i.provider_id} (${i.region})` }))]}
          />
          <TextField label="Instance type" value={form.instance_type} onChange={set("instance_type")} disabled={!!form.workload} />
          <TextField label="Users in region" value={form.users_region} onChange={set("users_region")} placeholder="e.g. eu-west-1" />
          <TextField label="Max latency" unit="ms" type="number" min={1} value={form.max_latency_ms} onChange={set("max_latency_ms")} />
          <TextField label="Weight: carbon" type="number" min={0} step="0.05" value={form.w_carbon} onChange={set("w_carbon")} />
          <TextField label="Weight: latency" type="number" min={0} step="0.05" value={form.w_latency} onChange={set("w_latency")} />
          <TextField label="Weight: cost" type="number" min={0} step="0.05" value={form.w_cost} onChange={set("w_cost")} />
          <Button type="submit" data-testid="rank-regions">
            Rank regions
          </Button>
        </form>
      </Card>
      <Card title="Ranking" className="mb-4" testId="region-ranking" description={ranking.data ? `${ranking.data.method} · window ${formatDateTime(ranking.data.window.start)} – ${formatDateTime(ranking.data.window.end)}, ${withUnit(ranking.data.window.it_energy_kwh, "kWh", 2)} IT energy` : undefined}>
        <QueryView query={ranking} isEmpty={(r) => r.regions.length === 0} empty={
            <EmptyState
              title="No region qualifies"
              hint={
                ranking.data?.excluded.length
                  ? `Excluded: ${ranking.data.excluded.map((e) => `${e.code} (${e.reasons.join(", ")})`).join("; ")}`
                  : "Loosen the latency limit or import carbon-intensity data."
              }
            />
          }>
          {(r) => (
            <>
              <DataTable
                caption="Regions ranked by weighted score"
                rows={r.regions}
                rowKey={(x) => `${x.provider}:${x.code}`}
                rowTestId={(x) => `region-${x.code}`}
                columns={[
                  { key: "rank", header: "#", align: "right", render: (x) => x.rank },
                  {
                    key: "name",
                    header: "Region",
                    render: (x) => (
                      <div>
                        <div className="font-medium">
                          {x.name} {x.is_current && <Badge>current</Badge>} {x.code === r.best && <Badge tone="good">best</Badge>}
                        </div>
                        <div className="text-xs text-slate-500">{x.provider} · {x.code}{x.country ? ` · ${x.country}` : ""}</div>
                      </div>
                    ),
                  },
                  { key: "intensity", header: "Intensity", align: "right", render: (x) => formatIntensity(x.intensity_g_per_kwh) },
                  { key: "latency", header: "Latency", align: "right", render: (x) => (x.latency_ms !== null ? `${formatNumber(x.latency_ms, 0)}\u202fms` : "—") },
                  { key: "cost", header: "Cost", align: "right", render: (x) => formatUsd(x.cost_usd) },
                  { key: "co2e", header: "CO2e", align: "right", render: (x) => formatCo2e(x.co2e_kg) },
                  { key: "change", header: "vs current", align: "right", render: (x) => signed(x.co2e_change_kg, formatCo2e) },
                  { key: "score", header: "Score", align: "right", render: (x) => formatNumber(x.score, 3) },
                  { key: "why", header: "Why", render: (x) => <span className="text-xs text-slate-600">{x.explanation.join("; ")}</span> },
                ]}
              />
              {r.excluded.length > 0 && (
                <p className="mt-2 text-xs text-slate-500">
                  Excluded: {r.excluded.map((e) => `${e.code} (${e.reasons.join(", ")})`).join("; ")}
                </p>
              )}
              <div className="mt-4">
                <BarSeriesChart
                  label="Carbon intensity by region"
                  summary={r.regions.map((x) => `${x.name}: ${formatIntensity(x.intensity_g_per_kwh)}`).join("; ")}
                  data={r.regions.map((x) => ({ region: x.code, intensity: x.intensity_g_per_kwh }))}
                  xKey="region"
                  series={[{ key: "intensity", label: "Intensity" }]}
                  unit="gCO2e/kWh"
                  formatY={axisNumber}
                />
              </div>
            </>
          )}
        </QueryView>
      </Card>
      {instances.isError ? <ErrorState error={instances.error} /> : <MigrationTool instances={instances.data?.items ?? []} ranking={ranking.data?.regions ?? []} clientId={clientId} />}
    </>
  );
}
