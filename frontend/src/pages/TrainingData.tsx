// Model lifecycle on the Admin page: export versioned training datasets from the canonical price layer (to train
// a risk model outside Spectra and upload it back), and see how logged decisions did against the prices that
// followed them.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api, unwrap } from "../api";
import { idempotencyHeaders, useAction } from "../api/actions";
import { DataTable } from "../components/DataTable";
import { DownloadButton } from "../components/DownloadButton";
import { EmptyState, ErrorState, QueryView } from "../components/states";
import { Button, Card, SelectField, StatCard, TextField } from "../components/ui";
import { formatDateTime, formatNumber, formatPercent, formatUsd } from "../lib/format";

const DAY_MS = 24 * 3600 * 1000;

function isoDay(offsetDays: number): string {
  return new Date(Date.now() + offsetDays * DAY_MS).toISOString().slice(0, 10);
}

export function TrainingDatasets() {
  const queryClient = useQueryClient();
  const datasets = useQuery({
    queryKey: ["spot.dataset", "list"],
    queryFn: () => unwrap(api.GET("/api/admin/ml-training-datasets", { params: { query: { limit: 50 } } })),
  });
  const [form, setForm] = useState({ name: "interruption-risk", start: isoDay(-30), end: isoDay(0), horizon: "24" });
  const create = useAction(
    (vars: typeof form, key: string) =>
      unwrap(
        api.POST("/api/admin/ml-training-datasets", {
          body: {
            name: vars.name,
            start: `${vars.start}T00:00:00Z`,
            end: `${vars.end}T00:00:00Z`,
            label_horizon_hours: Number(vars.horizon),
          },
          headers: idempotencyHeaders(key),
        }),
      ),
    { onSuccess: () => void queryClient.invalidateQueries({ queryKey: ["spot.dataset"] }) },
  );
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate(form);
  };

  return (
    <Card
      title="Training datasets"
      testId="training-datasets"
      description="Versioned exports of the canonical price layer with lifecycle labels (a termination notice within the horizon, the price change). The first five feature columns are a risk model's inputs, in order."
    >
      <form onSubmit={submit} className="mb-4 grid gap-3 md:grid-cols-5 md:items-end" aria-label="Export a training dataset">
        <TextField label="Name" value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} required pattern="[A-Za-z0-9][A-Za-z0-9._\-]*" />
        <TextField label="From (UTC day)" type="date" value={form.start} onChange={(e) => setForm({ ...form, start: e.target.value })} required />
        <TextField label="To (UTC day, excluded)" type="date" value={form.end} onChange={(e) => setForm({ ...form, end: e.target.value })} required />
        <SelectField
          label="Label horizon"
          value={form.horizon}
          onChange={(e) => setForm({ ...form, horizon: e.target.value })}
          options={[
            { value: "1", label: "1 h" },
            { value: "6", label: "6 h" },
            { value: "24", label: "24 h" },
            { value: "168", label: "7 days" },
          ]}
        />
        <Button type="submit" busy={create.isPending}>
          Export
        </Button>
      </form>
      {create.isError && <ErrorState error={create.error} title="Export refused" />}
      <QueryView
        query={datasets}
        isEmpty={(rows) => rows.length === 0}
        empty={<EmptyState title="No datasets exported yet" hint="Export a window once consolidation has filled the canonical layer." />}
      >
        {(rows) => (
          <DataTable
            caption="Training datasets"
            rows={rows}
            rowKey={(d) => d.id}
            columns={[
              {
                key: "name",
                header: "Dataset",
                render: (d) => (
                  <div>
                    <div className="font-medium">
                      {d.name} <span className="text-slate-500">v{d.dataset_version}</span>
                    </div>
                    <div className="font-mono text-xs text-slate-500" title={d.sha256}>
                      sha256 {d.sha256.slice(0, 12)}…
                    </div>
                  </div>
                ),
              },
              { key: "window", header: "Window (UTC)", render: (d) => <span className="text-xs">{formatDateTime(d.window_start)} → {formatDateTime(d.window_end)}</span> },
              { key: "rows", header: "Rows", align: "right", render: (d) => formatNumber(d.row_count, 0) },
              { key: "pools", header: "Pools", align: "right", render: (d) => formatNumber(d.pool_count, 0) },
              { key: "positives", header: `Interrupted`, align: "right", render: (d) => `${formatNumber(d.positive_labels, 0)} (${d.label_horizon_hours}\u202fh)` },
              { key: "size", header: "Size", align: "right", render: (d) => `${(d.size_bytes / 1024).toFixed(1)}\u202fKiB` },
              {
                key: "download",
                header: <span className="sr-only">Download</span>,
                render: (d) => (
                  <DownloadButton
                    label="Download"
                    filename={`${d.name}-v${d.dataset_version}.csv.gz`}
                    testId={`download-dataset-${d.dataset_version}`}
                    fetchFile={() => api.GET("/api/admin/ml-training-datasets/{dataset_id}/download", { params: { path: { dataset_id: d.id } }, parseAs: "blob" })}
                  />
                ),
              },
            ]}
          />
        )}
      </QueryView>
    </Card>
  );
}

export function DecisionPerformance() {
  const [horizon, setHorizon] = useState("6");
  const performance = useQuery({
    queryKey: ["spot.model", "performance", horizon],
    queryFn: () => unwrap(api.GET("/api/admin/ml-models/performance", { params: { query: { horizon_hours: Number(horizon) } } })),
  });
  return (
    <Card
      title="Decision performance"
      testId="decision-performance"
      description="Decisions of the last 7 days replayed against the consolidated prices that followed them."
      actions={
        <SelectField
          label="Horizon"
          value={horizon}
          onChange={(e) => setHorizon(e.target.value)}
          options={[
            { value: "1", label: "1 h" },
            { value: "6", label: "6 h" },
            { value: "24", label: "24 h" },
          ]}
        />
      }
    >
      <QueryView
        query={performance}
        isEmpty={(p) => p.decisions_logged === 0}
        empty={<EmptyState title="No decisions logged in the last 7 days" hint="Decisions are logged by POST /api/agents/{id}/decide and the auto-switch sweep." />}
      >
        {(p) => (
          <>
            <div className="grid gap-3 sm:grid-cols-2 lg:grid-cols-4">
              <StatCard label="Evaluated" value={formatNumber(p.decisions_evaluated, 0)} hint={`${p.decisions_logged} logged, ${p.decisions_waiting} too recent, ${p.decisions_unpriced} without prices`} testId="perf-evaluated" />
              <StatCard label="Realised saving vs staying" value={formatUsd(p.realised_saving_usd_per_hour, 4)} unit="/h per decision" testId="perf-saving" />
              <StatCard label="Moves that paid" value={p.share_of_moves_that_paid === null ? "—" : formatPercent(p.share_of_moves_that_paid * 100)} hint={`${p.moves} moves`} />
              <StatCard label="Regret vs best pool" value={formatUsd(p.regret_usd_per_hour, 4)} unit="/h" hint={p.interruption_brier === null ? undefined : `interruption Brier score ${p.interruption_brier.toFixed(4)}`} />
            </div>
            <p className="mt-3 text-xs text-slate-500">{p.method}</p>
          </>
        )}
      </QueryView>
    </Card>
  );
}
