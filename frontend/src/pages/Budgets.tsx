import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api, unwrap } from "../api";
import type { ResponseOf } from "../api/client";
import { idempotencyHeaders, useAction } from "../api/actions";
import { ClientPicker, useTenant } from "../auth/tenant";
import { BarSeriesChart } from "../components/charts";
import { DataTable } from "../components/DataTable";
import { EmptyState, ErrorState, QueryView } from "../components/states";
import { Badge, Button, Card, PageHeader, SelectField, StatCard, TextField } from "../components/ui";
import { useEventStream } from "../hooks/useEventStream";
import { download } from "../lib/download";
import { axisNumber, formatCo2e, formatDateTime, formatNumber, formatPercent, formatUsd } from "../lib/format";
import { humanize } from "../lib/labels";

type Budget = ResponseOf<"/api/budgets", "get">[number];

const STATUS_TONE: Record<string, "good" | "warn" | "bad"> = { on_track: "good", at_risk: "warn", over: "bad" };

export function currentQuarter(date = new Date()): { year: number; quarter: number } {
  return { year: date.getUTCFullYear(), quarter: Math.floor(date.getUTCMonth() / 3) + 1 };
}

function BudgetBar({ budget }: { budget: Budget }) {
  const used = Math.min(100, budget.pct_used);
  const projected = budget.budget_co2e_kg > 0 ? Math.min(100, (100 * budget.projected_co2e_kg) / budget.budget_co2e_kg) : 0;
  const tone = STATUS_TONE[budget.status] ?? "good";
  const color = tone === "bad" ? "bg-red-600" : tone === "warn" ? "bg-amber-500" : "bg-brand-600";
  return (
    <div className="min-w-32">
      <div
        className="relative h-2.5 overflow-hidden rounded bg-slate-200"
        role="meter"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={Math.round(budget.pct_used)}
        aria-label={`${budget.team_name}: ${formatPercent(budget.pct_used)} of the budget used`}
      >
        <div className="absolute inset-y-0 left-0 bg-slate-400/50" style={{ width: `${projected}%` }} />
        <div className={`absolute inset-y-0 left-0 ${color}`} style={{ width: `${used}%` }} />
      </div>
      <div className="mt-0.5 text-xs text-slate-500">
        {formatPercent(budget.pct_used)} used · {formatPercent(budget.budget_co2e_kg ? (100 * budget.projected_co2e_kg) / budget.budget_co2e_kg : null, 0)} projected
      </div>
    </div>
  );
}

function EditBudget({ budget }: { budget: Budget }) {
  const queryClient = useQueryClient();
  const [value, setValue] = useState(String(budget.budget_co2e_kg));
  const [open, setOpen] = useState(false);
  const update = useAction(
    (vars: { budget_co2e_kg: number }, key: string) =>
      unwrap(api.PATCH("/api/budgets/{budget_id}", { params: { path: { budget_id: budget.id } }, body: { ...vars, version: budget.version }, headers: idempotencyHeaders(key) })),
    {
      onSuccess: () => {
        setOpen(false);
        void queryClient.invalidateQueries({ queryKey: ["carbon.budget"] });
      },
    },
  );
  if (!open)
    return (
      <Button variant="ghost" onClick={() => setOpen(true)} aria-label={`Change the budget of ${budget.team_name}`}>
        Edit
      </Button>
    );
  return (
    <form
      className="flex flex-wrap items-end gap-2"
      onSubmit={(e) => {
        e.preventDefault();
        update.mutate({ budget_co2e_kg: Number(value) });
      }}
    >
      <TextField label="Budget" unit="kg CO2e" type="number" min={1} step="any" value={value} onChange={(e) => setValue(e.target.value)} required className="w-32" />
      <Button type="submit" busy={update.isPending}>
        Save
      </Button>
      <Button variant="ghost" onClick={() => setOpen(false)}>
        Cancel
      </Button>
      {update.isError && <ErrorState error={update.error} title="Not saved" onRetry={() => void queryClient.invalidateQueries({ queryKey: ["carbon.budget"] })} />}
    </form>
  );
}

function NewBudget({ year, quarter, clientId }: { year: number; quarter: number; clientId: string | null }) {
  const queryClient = useQueryClient();
  const teams = useQuery({ queryKey: ["fleet.team", "list", clientId], queryFn: () => unwrap(api.GET("/api/teams", { params: { query: { client_id: clientId } } })) });
  const [team, setTeam] = useState("");
  const [amount, setAmount] = useState("");
  const create = useAction(
    (vars: { team_id: string; budget_co2e_kg: number; year: number; quarter: number }, key: string) =>
      unwrap(api.POST("/api/budgets", { body: vars, headers: idempotencyHeaders(key) })),
    {
      onSuccess: () => {
        setAmount("");
        void queryClient.invalidateQueries({ queryKey: ["carbon.budget"] });
      },
    },
  );
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate({ team_id: team, budget_co2e_kg: Number(amount), year, quarter });
  };
  const options = (teams.data ?? []).map((t) => ({ value: t.id, label: t.name }));
  return (
    <form onSubmit={submit} className="grid gap-3 sm:grid-cols-4 sm:items-end" aria-label="Set a team budget">
      <SelectField label="Team" value={team} onChange={(e) => setTeam(e.target.value)} options={[{ value: "", label: teams.isPending ? "Loading…" : "Pick a team" }, ...options]} required />
      <TextField label="Budget" unit="kg CO2e per quarter" type="number" min={1} step="any" value={amount} onChange={(e) => setAmount(e.target.value)} required data-testid="budget-amount" />
      <Button type="submit" busy={create.isPending} disabled={!team} data-testid="create-budget">
        Set budget for Q{quarter} {year}
      </Button>
      {create.isError && <div className="sm:col-span-4"><ErrorState error={create.error} title="Budget not set" /></div>}
    </form>
  );
}

export function Budgets() {
  const { clientId, isAdmin } = useTenant();
  const [period, setPeriod] = useState(currentQuarter);
  const [exportError, setExportError] = useState<unknown>(null);
  const [exporting, setExporting] = useState(false);
  useEventStream(["budget", "carbon.action"]);
  const query = { year: period.year, quarter: period.quarter, client_id: clientId };
  const budgets = useQuery({
    queryKey: ["carbon.budget", "list", query],
    queryFn: () => unwrap(api.GET("/api/budgets", { params: { query } })),
    meta: { topics: ["budget", "carbon.action"] },
    refetchInterval: 5 * 60_000, // consumption grows with the hourly emissions job, which publishes no event
  });
  const rows = budgets.data ?? [];
  const total = rows.reduce((s, b) => s + b.budget_co2e_kg, 0);
  const consumed = rows.reduce((s, b) => s + b.consumed_co2e_kg, 0);
  const cost = rows.reduce((s, b) => s + b.cost_usd, 0);

  const exportCsv = async () => {
    setExporting(true);
    setExportError(null);
    try {
      await download(api.GET("/api/budgets/export", { params: { query }, parseAs: "blob" }), `chargeback-${period.year}-Q${period.quarter}.csv`);
    } catch (error) {
      setExportError(error);
    } finally {
      setExporting(false);
    }
  };

  const quarters = [];
  const now = currentQuarter();
  for (let i = 0; i < 8; i++) {
    const index = now.year * 4 + (now.quarter - 1) - i;
    quarters.push({ value: `${Math.floor(index / 4)}-${(index % 4) + 1}`, label: `Q${(index % 4) + 1} ${Math.floor(index / 4)}` });
  }

  return (
    <>
      <PageHeader
        title="Budgets"
        description="Quarterly carbon budgets per team: consumption so far, the projection to the end of the quarter, and the chargeback export (CO2e, energy and cost per team)."
        actions={
          <>
            <ClientPicker />
            <SelectField
              label="Quarter"
              value={`${period.year}-${period.quarter}`}
              onChange={(e) => {
                const [y, q] = e.target.value.split("-").map(Number);
                setPeriod({ year: y!, quarter: q! });
              }}
              options={quarters}
            />
            <Button variant="secondary" busy={exporting} onClick={() => void exportCsv()} data-testid="export-chargeback">
              Export chargeback CSV
            </Button>
          </>
        }
      />
      {exportError !== null && <ErrorState error={exportError} title="Export failed" />}
      <div className="mb-4 grid grid-cols-2 gap-3 lg:grid-cols-4">
        <StatCard label="Budgeted" value={budgets.data ? formatCo2e(total) : null} testId="budget-total" />
        <StatCard label="Consumed" value={budgets.data ? formatCo2e(consumed) : null} hint={total ? `${formatPercent((100 * consumed) / total)} of budget` : undefined} testId="budget-consumed" tone={consumed > total && total > 0 ? "bad" : "neutral"} />
        <StatCard label="Teams over budget" value={budgets.data ? formatNumber(rows.filter((b) => b.status === "over").length, 0) : null} tone={rows.some((b) => b.status === "over") ? "bad" : "good"} />
        <StatCard label="Cost this quarter" value={budgets.data ? formatUsd(cost) : null} />
      </div>
      <Card title={`Team budgets · Q${period.quarter} ${period.year}`} className="mb-4" testId="budgets">
        <QueryView query={budgets} isEmpty={(b) => b.length === 0} empty={<EmptyState title="No budgets for this quarter" hint={isAdmin && !clientId ? "Pick a client to set its teams' budgets." : "Set one per team below."} />}>
          {(list) => (
            <>
              <DataTable
                caption="Team budgets"
                rows={list}
                rowKey={(b) => b.id}
                rowTestId={(b) => `budget-${b.team_name}`}
                columns={[
                  { key: "team", header: "Team", render: (b) => <span className="font-medium">{b.team_name}</span> },
                  { key: "status", header: "Status", render: (b) => <Badge tone={STATUS_TONE[b.status] ?? "neutral"}>{humanize(b.status)}</Badge> },
                  { key: "use", header: "Use", render: (b) => <BudgetBar budget={b} /> },
                  { key: "consumed", header: "Consumed", align: "right", render: (b) => formatCo2e(b.consumed_co2e_kg) },
                  { key: "budget", header: "Budget", align: "right", render: (b) => formatCo2e(b.budget_co2e_kg) },
                  { key: "projected", header: "Projected", align: "right", render: (b) => formatCo2e(b.projected_co2e_kg) },
                  { key: "kwh", header: "Energy", align: "right", render: (b) => `${formatNumber(b.kwh, 1)}\u202fkWh` },
                  { key: "cost", header: "Cost", align: "right", render: (b) => formatUsd(b.cost_usd) },
                  { key: "basis", header: "Basis", render: (b) => <span className="text-xs">{humanize(b.basis)}{b.include_embodied ? " + embodied" : ""}<div className="text-slate-500">updated {formatDateTime(b.updated_at)}</div></span> },
                  { key: "edit", header: <span className="sr-only">Edit</span>, render: (b) => <EditBudget budget={b} /> },
                ]}
              />
              <div className="mt-4">
                <BarSeriesChart
                  label="Consumed and projected CO2e against each team's budget"
                  summary={list.map((b) => `${b.team_name}: ${formatCo2e(b.consumed_co2e_kg)} of ${formatCo2e(b.budget_co2e_kg)}`).join("; ")}
                  data={list.map((b) => ({ team: b.team_name, consumed: b.consumed_co2e_kg, projected: Math.max(0, b.projected_co2e_kg - b.consumed_co2e_kg), budget: b.budget_co2e_kg }))}
                  xKey="team"
                  series={[
                    { key: "consumed", label: "Consumed", color: "#15803d" },
                    { key: "projected", label: "Projected rest of quarter", color: "#94a3b8" },
                    { key: "budget", label: "Budget", color: "#2563eb" },
                  ]}
                  unit="kg CO2e"
                  formatY={axisNumber}
                />
              </div>
            </>
          )}
        </QueryView>
      </Card>
      {(!isAdmin || clientId) && (
        <Card title="Set a team budget">
          <NewBudget year={period.year} quarter={period.quarter} clientId={clientId} />
        </Card>
      )}
    </>
  );
}
