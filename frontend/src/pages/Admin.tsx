import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api, unwrap } from "../api";
import type { ResponseOf } from "../api/client";
import { idempotencyHeaders, useAction } from "../api/actions";
import { as, PRICE_REPORT_TOPIC } from "../api/spot";
import { DataTable } from "../components/DataTable";
import { DownloadButton } from "../components/DownloadButton";
import { EmptyState, ErrorState, QueryView } from "../components/states";
import { Badge, Button, Card, PageHeader, SelectField, StatCard, TextField } from "../components/ui";
import { useEventStream } from "../hooks/useEventStream";
import { formatDateTime, formatNumber, formatPercent, formatRatio, formatUsd } from "../lib/format";
import { humanize, severityTone, statusTone } from "../lib/labels";
import { MlModels } from "./MlModels";
import { DecisionPerformance, TrainingDatasets } from "./TrainingData";

type Client = ResponseOf<"/api/admin/clients", "get">[number];

interface GlobalStats {
  clients: number;
  agents: number;
  agents_by_status: Record<string, number>;
  instances_by_role: Record<string, number>;
  pools: number;
  switches_today: number;
  open_commands: number;
  savings_30d_usd: number;
  savings_30d_pct: number | null;
}

interface SystemHealth {
  status: string;
  agents: { total: number; stale: number; offline: number };
  heartbeat_miss_rate: number | null;
  open_commands: number;
  latest_price_received_at: string | null;
  jobs: Record<string, { status: string; started_at: string } | null>;
}

/** A token shown once, right after it was issued: it is not stored and cannot be shown again. */
function TokenOnce({ name, token, onClose }: { name: string; token: string; onClose: () => void }) {
  const [copied, setCopied] = useState(false);
  return (
    <div role="alert" className="mb-4 rounded-md border border-amber-300 bg-amber-50 p-3 text-sm" data-testid="token-once">
      <p className="font-medium text-amber-900">Token for {name}: copy it now, it is shown only once.</p>
      <code className="mt-2 block break-all rounded bg-white px-2 py-1 font-mono text-xs" data-testid="new-token">
        {token}
      </code>
      <div className="mt-2 flex gap-2">
        <Button
          variant="secondary"
          onClick={() =>
            void navigator.clipboard?.writeText(token).then(
              () => setCopied(true),
              () => setCopied(false),
            )
          }
        >
          {copied ? "Copied" : "Copy"}
        </Button>
        <Button variant="ghost" onClick={onClose}>
          I have saved it
        </Button>
      </div>
    </div>
  );
}

function Clients() {
  const queryClient = useQueryClient();
  const [issued, setIssued] = useState<{ name: string; token: string } | null>(null);
  const [name, setName] = useState("");
  const [email, setEmail] = useState("");
  const [teams, setTeams] = useState("");
  const clients = useQuery({ queryKey: ["admin.client", "list"], queryFn: () => unwrap(api.GET("/api/admin/clients")) });
  const refresh = () => void queryClient.invalidateQueries({ queryKey: ["admin.client"] });

  const create = useAction(
    (vars: { name: string; email: string | null; teams: string[] }, key: string) =>
      unwrap(api.POST("/api/admin/clients/create", { body: vars, headers: idempotencyHeaders(key) })),
    {
      onSuccess: (created) => {
        const c = created as ResponseOf<"/api/admin/clients/{client_id}/regenerate-token", "post">;
        setIssued({ name: c.name, token: c.token });
        setName("");
        setEmail("");
        setTeams("");
        refresh();
      },
    },
  );
  const regenerate = useAction(
    (client: Client, key: string) =>
      unwrap(api.POST("/api/admin/clients/{client_id}/regenerate-token", { params: { path: { client_id: client.id } }, headers: idempotencyHeaders(key) })),
    {
      onSuccess: (c) => {
        setIssued({ name: c.name, token: c.token });
        refresh();
      },
    },
  );
  const setStatus = useAction(
    (vars: { client: Client; status: string }, key: string) =>
      unwrap(
        api.PATCH("/api/admin/clients/{client_id}", {
          params: { path: { client_id: vars.client.id } },
          body: { status: vars.status, version: vars.client.version },
          headers: idempotencyHeaders(key),
        }),
      ),
    { onSuccess: refresh, onError: refresh },
  );

  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate({
      name: name.trim(),
      email: email.trim() || null,
      teams: teams
        .split(",")
        .map((t) => t.trim())
        .filter(Boolean),
    });
  };

  return (
    <Card title="Clients" className="mb-4" testId="clients">
      {issued && <TokenOnce name={issued.name} token={issued.token} onClose={() => setIssued(null)} />}
      <form onSubmit={submit} className="mb-4 grid gap-3 sm:grid-cols-4 sm:items-end" aria-label="Create a client">
        <TextField label="Name" value={name} onChange={(e) => setName(e.target.value)} required data-testid="client-name" />
        <TextField label="Email" type="email" value={email} onChange={(e) => setEmail(e.target.value)} />
        <TextField label="Teams" hint="comma-separated" value={teams} onChange={(e) => setTeams(e.target.value)} />
        <Button type="submit" busy={create.isPending} data-testid="create-client">
          Create client
        </Button>
      </form>
      {create.isError && <ErrorState error={create.error} title="Could not create the client" />}
      {(regenerate.isError || setStatus.isError) && <ErrorState error={regenerate.error ?? setStatus.error} />}
      <QueryView query={clients} isEmpty={(c) => c.length === 0} empty={<EmptyState title="No clients yet" hint="Create one above; its token is shown once." />}>
        {(rows) => (
          <DataTable
            caption="Clients"
            rows={rows}
            rowKey={(c) => c.id}
            rowTestId={(c) => `client-${c.name}`}
            columns={[
              { key: "name", header: "Client", render: (c) => <div><div className="font-medium">{c.name}</div><div className="text-xs text-slate-500">{c.email ?? "no email"}</div></div> },
              { key: "status", header: "Status", render: (c) => <Badge tone={statusTone(c.status)}>{c.status}</Badge> },
              { key: "token", header: "Token", render: (c) => <span className="whitespace-nowrap font-mono text-xs">{c.token_prefix}… · {formatDateTime(c.token_created_at)}</span> },
              { key: "created", header: "Created", render: (c) => <span className="text-xs">{formatDateTime(c.created_at)}</span> },
              {
                key: "actions",
                header: <span className="sr-only">Actions</span>,
                render: (c) => (
                  <div className="flex flex-wrap gap-1">
                    <Button variant="secondary" busy={regenerate.isPending && regenerate.variables?.id === c.id} onClick={() => regenerate.mutate(c)} aria-label={`Regenerate the token of ${c.name}`}>
                      New token
                    </Button>
                    <Button
                      variant="ghost"
                      onClick={() => setStatus.mutate({ client: c, status: c.status === "active" ? "suspended" : "active" })}
                      aria-label={`${c.status === "active" ? "Suspend" : "Activate"} ${c.name}`}
                    >
                      {c.status === "active" ? "Suspend" : "Activate"}
                    </Button>
                  </div>
                ),
              },
            ]}
          />
        )}
      </QueryView>
    </Card>
  );
}

function Activity() {
  const [severity, setSeverity] = useState("");
  const activity = useQuery({
    queryKey: ["spot", "admin-activity", severity],
    queryFn: () => unwrap(api.GET("/api/admin/activity", { params: { query: { severity: severity || null, limit: 50 } } })),
    meta: { topics: ["emergency"] },
  });
  return (
    <Card
      title="Activity"
      testId="activity"
      actions={
        <SelectField
          label="Severity"
          value={severity}
          onChange={(e) => setSeverity(e.target.value)}
          options={[{ value: "", label: "All" }, ...["info", "warning", "critical"].map((s) => ({ value: s, label: humanize(s) }))]}
        />
      }
    >
      <QueryView query={activity} isEmpty={(a) => a.length === 0} empty={<EmptyState title="No activity yet" />}>
        {(rows) => (
          <ul className="divide-y divide-slate-100 text-sm">
            {rows.map((a) => (
              <li key={a.id} className="py-2">
                <Badge tone={severityTone(a.severity)}>{a.severity}</Badge> <span className="font-medium">{humanize(a.event_type)}</span>
                <span className="ml-2 text-xs text-slate-500">{formatDateTime(a.at)} · {a.actor ?? "system"}</span>
                <p className="text-slate-700">{a.message}</p>
              </li>
            ))}
          </ul>
        )}
      </QueryView>
    </Card>
  );
}

function Jobs() {
  const queryClient = useQueryClient();
  const jobs = useQuery({ queryKey: ["platform.job", "list"], queryFn: () => unwrap(api.GET("/api/admin/jobs")), refetchInterval: 30_000 });
  const run = useAction(
    (name: string, key: string) => unwrap(api.POST("/api/admin/jobs/{name}/run", { params: { path: { name } }, headers: idempotencyHeaders(key) })),
    { onSuccess: () => void queryClient.invalidateQueries({ queryKey: ["platform.job"] }) },
  );
  return (
    <Card title="Periodic jobs" testId="jobs">
      {run.isError && <ErrorState error={run.error} title="The job failed" />}
      <QueryView query={jobs} isEmpty={(j) => j.length === 0} empty={<EmptyState title="No jobs registered" />}>
        {(rows) => (
          <DataTable
            caption="Jobs"
            rows={rows}
            rowKey={(j) => j.name}
            columns={[
              { key: "name", header: "Job", render: (j) => <div><div className="font-mono text-xs">{j.name}</div><div className="text-xs text-slate-500">{j.description}</div></div> },
              { key: "every", header: "Every", align: "right", render: (j) => `${formatNumber(j.interval_seconds / 60, 1)}\u202fmin` },
              { key: "last", header: "Last run", render: (j) => (j.last_run ? <span className="text-xs"><Badge tone={statusTone(j.last_run.status)}>{j.last_run.status}</Badge> {formatDateTime(j.last_run.started_at)}</span> : "never") },
              {
                key: "run",
                header: <span className="sr-only">Run</span>,
                render: (j) => (
                  <Button variant="secondary" busy={run.isPending && run.variables === j.name} onClick={() => run.mutate(j.name)} aria-label={`Run ${j.name} now`}>
                    Run now
                  </Button>
                ),
              },
            ]}
          />
        )}
      </QueryView>
    </Card>
  );
}

export function Admin() {
  useEventStream(["spot.", "emergency."], { ignore: [PRICE_REPORT_TOPIC] }); // every agent's price reports: too frequent
  const stats = useQuery({ queryKey: ["spot", "admin-stats"], queryFn: () => unwrap(api.GET("/api/admin/stats")).then(as<GlobalStats>) });
  const health = useQuery({ queryKey: ["spot", "system-health"], queryFn: () => unwrap(api.GET("/api/admin/system-health")).then(as<SystemHealth>), refetchInterval: 30_000 });
  const s = stats.data;
  const h = health.data;
  return (
    <>
      <PageHeader
        title="Admin"
        description="Clients and their tokens, global figures across every tenant, ML models, the activity log and the periodic jobs."
        actions={<DownloadButton label="Global stats CSV" filename="global-stats.csv" testId="export-global-stats" fetchFile={() => api.GET("/api/admin/export/global-stats", { params: { query: { days: 30 } }, parseAs: "blob" })} />}
      />
      <div className="mb-4 grid grid-cols-2 gap-3 lg:grid-cols-4">
        <StatCard label="Clients" value={s ? formatNumber(s.clients, 0) : null} testId="stat-clients" />
        <StatCard label="Agents" value={s ? formatNumber(s.agents, 0) : null} hint={s ? Object.entries(s.agents_by_status).map(([k, v]) => `${v} ${k}`).join(" · ") || "none" : undefined} testId="stat-agents" />
        <StatCard label="Spot savings, 30 days" value={s ? formatUsd(s.savings_30d_usd) : null} hint={s?.savings_30d_pct != null ? `${formatPercent(s.savings_30d_pct)} below on-demand` : undefined} tone="good" testId="stat-savings" />
        <StatCard
          label="System"
          value={h ? humanize(h.status) : null}
          tone={h?.status === "healthy" ? "good" : h ? "bad" : "neutral"}
          hint={h ? `heartbeat misses ${formatRatio(h.heartbeat_miss_rate, 2)} · ${h.open_commands} open commands · ${h.agents.offline} offline` : undefined}
          testId="stat-health"
        />
      </div>
      {(stats.isError || health.isError) && <ErrorState error={stats.error ?? health.error} onRetry={() => void Promise.all([stats.refetch(), health.refetch()])} />}
      <Clients />
      <div className="mb-4">
        <MlModels />
      </div>
      <div className="mb-4 grid gap-4 xl:grid-cols-2">
        <TrainingDatasets />
        <DecisionPerformance />
      </div>
      <div className="grid gap-4 xl:grid-cols-2">
        <Activity />
        <Jobs />
      </div>
    </>
  );
}
