import { useQueries, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, unwrap } from "../api";
import type { ResponseOf } from "../api/client";
import { idempotencyHeaders, useAction } from "../api/actions";
import { as, PRICE_REPORT_TOPIC, reportTouchesPools, type DowntimeStats, type EmergencyStatus, type FleetCharts, type PoolOption, type PriceHistory, type Savings } from "../api/spot";
import { ClientPicker, useTenant } from "../auth/tenant";
import { BarSeriesChart, LineSeriesChart, shortDate, shortTime } from "../components/charts";
import { DataTable } from "../components/DataTable";
import { DowntimeCard } from "../components/DowntimeCard";
import { DownloadButton } from "../components/DownloadButton";
import { EmergencyEventAlert } from "../components/EmergencyEventAlert";
import { EmptyState, ErrorState, QueryView } from "../components/states";
import { Badge, Button, Card, PageHeader, StatCard } from "../components/ui";
import { useEventStream } from "../hooks/useEventStream";
import { useNow } from "../hooks/useNow";
import { axisNumber, formatDateTime, formatDuration, formatNumber, formatPercent, formatRelative, formatUsd, formatUsdPerHour, shortId } from "../lib/format";
import { humanize, severityTone, statusTone } from "../lib/labels";

type Agent = ResponseOf<"/api/client/{client_id}/agents", "get">[number];
type Instance = ResponseOf<"/api/client/{client_id}/instances", "get">[number];

const ROLES = ["PRIMARY", "REPLICA", "ZOMBIE", "TERMINATED"] as const;
const PRICE_REFRESH_MS = 15_000; // the v6 target: price charts no more than 30 s behind
// Agents' price reports arrive over SSE; a burst of them (many agents, one pool) costs one refetch a second.
const PRICE_REPORT_BATCH_MS = 1_000;
// Events that open an emergency: its alert is fetched at once, before the instance list catches up.
const EMERGENCY_OPENED = new Set(["emergency.rebalance", "emergency.termination"]);

function agentName(agent: Agent | undefined, fallback: string): string {
  return agent?.logical_name || agent?.hostname || fallback;
}

function roleTone(role: string) {
  return role === "PRIMARY" ? "good" : role === "REPLICA" ? "neutral" : role === "ZOMBIE" ? "warn" : "neutral";
}

function Emergencies({ instances, agents, noticed }: { instances: Instance[]; agents: Map<string, Agent>; noticed: readonly string[] }) {
  const agentIds = [...new Set([...instances.filter((i) => i.notice_status && i.notice_status !== "none").map((i) => i.agent_id), ...noticed])];
  const statuses = useQueries({
    queries: agentIds.map((id) => ({
      queryKey: ["emergency", "status", id],
      queryFn: () => unwrap(api.GET("/api/agents/{agent_id}/emergency-status", { params: { path: { agent_id: id } } })).then(as<EmergencyStatus>),
      refetchInterval: 10_000,
    })),
  });
  if (agentIds.length === 0) return null;
  return (
    <div className="mb-4 space-y-3" data-testid="emergencies">
      {statuses.map((q, i) => {
        const id = agentIds[i]!;
        if (q.isError) return <ErrorState key={id} error={q.error} title={`Emergency status of ${agentName(agents.get(id), id)}`} />;
        const status = q.data;
        if (!status?.event) return null;
        // The server's clock may be simulated: shift the countdown by the server/browser difference.
        const serverNow =
          status.notice_deadline && status.seconds_remaining !== null ? new Date(status.notice_deadline).getTime() - status.seconds_remaining * 1000 : null;
        const offset = serverNow !== null ? serverNow - q.dataUpdatedAt : 0;
        return <EmergencyEventAlert key={id} event={status.event} replica={status.replica} agentName={agentName(agents.get(id), id)} clockOffsetMs={offset} />;
      })}
    </div>
  );
}

function priceKeys(instanceId: string) {
  return { history: ["spot", "price-history", instanceId], options: ["spot", "options", instanceId] };
}

/** Refresh the chosen instance's price chart and pools when an agent reports a price for one of them. */
function useLivePrices(instanceId: string | undefined) {
  const queryClient = useQueryClient();
  const keys = instanceId ? priceKeys(instanceId) : null;
  useEventStream([PRICE_REPORT_TOPIC], {
    batchMs: PRICE_REPORT_BATCH_MS,
    accept: (event) => {
      if (!keys) return false;
      const shown = new Set((queryClient.getQueryData<PoolOption[]>(keys.options) ?? []).map((p) => p.pool_id));
      const poolId = queryClient.getQueryData<PriceHistory>(keys.history)?.pool_id;
      if (poolId) shown.add(poolId);
      return reportTouchesPools(event.payload, shown);
    },
    refresh: keys ? [keys.history, keys.options] : [],
  });
}

function PriceChart({ instance }: { instance: Instance }) {
  const history = useQuery({
    queryKey: priceKeys(instance.id).history,
    queryFn: () => unwrap(api.GET("/api/client/instances/{instance_id}/price-history", { params: { path: { instance_id: instance.id }, query: { days: 7 } } })).then(as<PriceHistory>),
    refetchInterval: PRICE_REFRESH_MS,
  });
  return (
    <QueryView query={history} isEmpty={(h) => h.points.length === 0} empty={<EmptyState title="No prices reported for this pool yet" hint="Agents report spot prices every few minutes." />}>
      {(h) => {
        const last = h.points[h.points.length - 1];
        return (
          <>
            <p className="mb-2 text-sm text-slate-600" data-testid="price-latest">
              Pool <span className="font-mono" title={h.pool_id ?? ""}>{shortId(h.pool_id)}</span> · latest {formatUsdPerHour(last?.price)} at {formatDateTime(last?.at)} · on-demand {formatUsdPerHour(h.on_demand_price)}
            </p>
            <LineSeriesChart
              testId="price-chart"
              label={`Spot price of ${instance.cloud_instance_id}'s pool, last 7 days`}
              summary={`${h.points.length} price points; latest ${formatUsd(last?.price, 4)} per hour at ${formatDateTime(last?.at)}; on-demand ${formatUsd(h.on_demand_price, 4)} per hour.`}
              data={h.points}
              xKey="at"
              series={[{ key: "price", label: "Spot price" }]}
              unit="USD/h"
              formatX={shortTime}
              formatY={axisNumber}
              reference={h.on_demand_price !== null ? { y: h.on_demand_price, label: "on-demand" } : undefined}
            />
          </>
        );
      }}
    </QueryView>
  );
}

function Pools({ instance }: { instance: Instance }) {
  const queryClient = useQueryClient();
  const options = useQuery({
    queryKey: priceKeys(instance.id).options,
    queryFn: () => unwrap(api.GET("/api/client/instances/{instance_id}/available-options", { params: { path: { instance_id: instance.id }, query: { days: 7 } } })).then(as<PoolOption[]>),
    refetchInterval: PRICE_REFRESH_MS * 2,
  });
  const switchTo = useAction(
    (vars: { target_pool_id: string | null; target_mode: string }, key: string) =>
      unwrap(
        api.POST("/api/client/instances/{instance_id}/force-switch", {
          params: { path: { instance_id: instance.id } },
          body: { ...vars, reason: "manual switch from the Fleet page" },
          headers: idempotencyHeaders(key),
        }),
      ),
    { onSuccess: () => void queryClient.invalidateQueries({ queryKey: ["spot"] }) },
  );
  const canSwitch = instance.role === "PRIMARY";
  return (
    <>
      {switchTo.isSuccess && (
        <p role="status" className="mb-2 rounded-md bg-brand-50 px-3 py-2 text-sm text-brand-800">
          Switch command queued; the agent picks it up on its next poll.
        </p>
      )}
      {switchTo.isError && <ErrorState error={switchTo.error} title="Switch refused" />}
      <QueryView query={options} isEmpty={(o) => o.length === 0} empty={<EmptyState title="No pools known for this instance type and region" />}>
        {(pools) => (
          <DataTable
            caption="Spot pools for this instance"
            testId="pools-table"
            rows={pools}
            rowKey={(p) => p.pool_id}
            rowTestId={(p) => `pool-${p.pool_id}`}
            columns={[
              { key: "az", header: "Zone", render: (p) => <span className="whitespace-nowrap">{p.availability_zone ?? p.region}{p.is_current && <Badge tone="good">current</Badge>}</span> },
              { key: "price", header: "Spot price", align: "right", render: (p) => formatUsdPerHour(p.latest_price) },
              { key: "savings", header: "vs on-demand", align: "right", render: (p) => formatPercent(p.savings_pct) },
              { key: "risk", header: "Interruption", render: (p) => String(p.interruption_bucket ?? "—") },
              { key: "vol", header: "Volatility (CV)", align: "right", render: (p) => formatPercent(p.volatility !== null ? p.volatility * 100 : null) },
              { key: "boot", header: "Boot", align: "right", render: (p) => formatDuration(p.boot_seconds) },
              {
                key: "act",
                header: <span className="sr-only">Actions</span>,
                render: (p) =>
                  canSwitch && !p.is_current ? (
                    <Button variant="secondary" busy={switchTo.isPending && switchTo.variables?.target_pool_id === p.pool_id} disabled={switchTo.isPending} onClick={() => switchTo.mutate({ target_pool_id: p.pool_id, target_mode: "spot" })} aria-label={`Switch to pool ${p.pool_id}`}>
                      Switch here
                    </Button>
                  ) : null,
              },
            ]}
          />
        )}
      </QueryView>
      {canSwitch && instance.lifecycle !== "on_demand" && (
        <Button variant="ghost" className="mt-2" disabled={switchTo.isPending} onClick={() => switchTo.mutate({ target_pool_id: null, target_mode: "on_demand" })}>
          Fall back to on-demand
        </Button>
      )}
    </>
  );
}

function Notifications() {
  const queryClient = useQueryClient();
  const list = useQuery({
    queryKey: ["spot", "notifications"],
    queryFn: () => unwrap(api.GET("/api/notifications", { params: { query: { limit: 20 } } })),
    meta: { topics: ["emergency"] },
    refetchInterval: 30_000,
  });
  const refresh = () => void queryClient.invalidateQueries({ queryKey: ["spot", "notifications"] });
  const markAll = useAction((_: null, key: string) => unwrap(api.POST("/api/notifications/mark-all-read", { headers: idempotencyHeaders(key) })), { onSuccess: refresh });
  const markOne = useAction(
    (id: string, key: string) => unwrap(api.POST("/api/notifications/{notification_id}/mark-read", { params: { path: { notification_id: id } }, headers: idempotencyHeaders(key) })),
    { onSuccess: refresh },
  );
  const unread = list.data?.filter((n) => !n.read_at).length ?? 0;
  return (
    <Card
      title={`Notifications${unread ? ` (${unread} unread)` : ""}`}
      testId="notifications"
      actions={
        <Button variant="secondary" disabled={!unread} busy={markAll.isPending} onClick={() => markAll.mutate(null)}>
          Mark all read
        </Button>
      }
    >
      {markAll.isError && <ErrorState error={markAll.error} />}
      <QueryView query={list} isEmpty={(l) => l.length === 0} empty={<EmptyState title="No notifications" />}>
        {(items) => (
          <ul className="divide-y divide-slate-100 text-sm">
            {items.map((n) => (
              <li key={n.id} className="flex items-start justify-between gap-2 py-2">
                <div>
                  <Badge tone={severityTone(n.severity)}>{n.severity}</Badge> <span className={n.read_at ? "text-slate-600" : "font-medium"}>{n.title}</span>
                  <p className="text-slate-600">{n.message}</p>
                  <p className="text-xs text-slate-500">{formatDateTime(n.created_at)}</p>
                </div>
                {!n.read_at && (
                  <Button variant="ghost" onClick={() => markOne.mutate(n.id)} aria-label={`Mark "${n.title}" read`}>
                    Mark read
                  </Button>
                )}
              </li>
            ))}
          </ul>
        )}
      </QueryView>
    </Card>
  );
}

function FleetView({ clientId }: { clientId: string }) {
  const now = useNow(30_000);
  const [selected, setSelected] = useState<string | null>(null);
  const [noticed, setNoticed] = useState<{ agentId: string; at: number }[]>([]);
  const path = { path: { client_id: clientId } };
  const agents = useQuery({ queryKey: ["spot", "agents", clientId], queryFn: () => unwrap(api.GET("/api/client/{client_id}/agents", { params: path })), refetchInterval: 30_000 });
  const instances = useQuery({
    queryKey: ["spot", "instances", clientId],
    queryFn: () => unwrap(api.GET("/api/client/{client_id}/instances", { params: path })),
    meta: { topics: ["emergency"] }, // an instance's notice status
  });
  // Emergencies cannot wait for a batch: refresh at once, and show a new one's alert straight from its event.
  useEventStream(["emergency."], {
    batchMs: 0,
    onEvent: (event) => {
      const agentId = event.payload.agent_id;
      if (!EMERGENCY_OPENED.has(event.topic) || typeof agentId !== "string" || (event.clientId !== null && event.clientId !== clientId)) return;
      setNoticed((list) => [...list.filter((n) => n.agentId !== agentId), { agentId, at: Date.now() }]);
    },
  });
  const charts = useQuery({
    queryKey: ["spot", "charts", clientId],
    queryFn: () => unwrap(api.GET("/api/client/{client_id}/stats/charts", { params: { ...path, query: { days: 30 } } })).then(as<FleetCharts>),
  });
  const savings = useQuery({
    queryKey: ["spot", "savings", clientId],
    queryFn: () => unwrap(api.GET("/api/client/{client_id}/savings", { params: { ...path, query: { days: 30 } } })).then(as<Savings>),
  });
  const downtime = useQuery({
    queryKey: ["spot", "downtime", clientId],
    queryFn: () => unwrap(api.GET("/api/client/{client_id}/analytics/downtime", { params: { ...path, query: { hours: 24 } } })).then(as<DowntimeStats>),
  });
  const history = useQuery({
    queryKey: ["spot", "switch-history", clientId],
    queryFn: () => unwrap(api.GET("/api/client/{client_id}/switch-history", { params: { ...path, query: { days: 30 } } })),
  });

  const agentMap = new Map((agents.data ?? []).map((a) => [a.id, a]));
  const live = (instances.data ?? []).filter((i) => i.role !== "TERMINATED");
  const chosen = live.find((i) => i.id === selected) ?? live.find((i) => i.role === "PRIMARY") ?? live[0];
  useLivePrices(chosen?.id);
  // Until the instance list has caught up with an emergency event, its agent is shown from the event.
  const noticedAgents = noticed.filter((n) => n.at >= instances.dataUpdatedAt).map((n) => n.agentId);
  const online = (agents.data ?? []).filter((a) => a.status === "online").length;
  const byRole = charts.data?.instances_by_role ?? {};
  const p95Days = (charts.data?.downtime_p95_by_day ?? []).filter((d) => d.p95_seconds !== null);
  const yesterday = p95Days.length >= 2 ? p95Days[p95Days.length - 2]!.p95_seconds : null;

  return (
    <>
      {instances.data && <Emergencies instances={instances.data} agents={agentMap} noticed={noticedAgents} />}
      <div className="mb-4 grid grid-cols-2 gap-3 lg:grid-cols-4">
        <StatCard label="Agents online" value={agents.data ? `${online} / ${agents.data.length}` : null} testId="agents-online" tone={agents.data && online < agents.data.length ? "warn" : "good"} />
        <StatCard label="Instances by role" value={charts.data ? ROLES.slice(0, 3).map((r) => `${byRole[r] ?? 0}`).join(" · ") : null} hint="primary · replica · zombie" testId="instances-by-role" />
        <StatCard label="Savings, last 30 days" value={savings.data ? formatUsd(savings.data.total_savings_usd) : null} hint={savings.data?.savings_pct != null ? `${formatPercent(savings.data.savings_pct)} below on-demand` : undefined} tone="good" testId="savings-30d" />
        <StatCard label="Switches, last 30 days" value={charts.data ? formatNumber(charts.data.switches_by_day.reduce((s, d) => s + d.switches, 0), 0) : null} testId="switches-30d" />
      </div>
      {(savings.isError || charts.isError) && <ErrorState error={savings.error ?? charts.error} onRetry={() => void Promise.all([savings.refetch(), charts.refetch()])} />}

      <div className="mb-4">
        <QueryView query={downtime}>{(d) => <DowntimeCard stats={d} previousP95={yesterday} previousLabel="yesterday" />}</QueryView>
      </div>

      <Card title="Agents and health" className="mb-4" testId="agents">
        <QueryView query={agents} isEmpty={(a) => a.length === 0} empty={<EmptyState title="No agents registered" hint="Install the agent on an instance: `spectra agent run --server … --token …`." />}>
          {(rows) => (
            <DataTable
              caption="Agents"
              rows={rows}
              rowKey={(a) => a.id}
              rowTestId={(a) => `agent-${a.id}`}
              columns={[
                { key: "name", header: "Agent", render: (a) => <div><div className="font-medium">{agentName(a, a.id)}</div><div className="text-xs text-slate-500">{a.instance_type ?? "—"} · {a.availability_zone ?? a.region ?? "—"}</div></div> },
                { key: "status", header: "Status", render: (a) => <Badge tone={statusTone(a.status)}>{a.status}</Badge> },
                { key: "hb", header: "Last heartbeat", render: (a) => formatRelative(a.last_heartbeat_at, now) },
                { key: "miss", header: "Missed heartbeats", align: "right", render: (a) => `${a.heartbeats_missed} of ${a.heartbeats_missed + a.heartbeats_received}` },
                { key: "auto", header: "Auto-switch", render: (a) => (a.auto_switch_enabled ? "on" : "off") },
                { key: "replica", header: "Manual replica", render: (a) => (a.manual_replica_enabled ? "on" : "off") },
              ]}
            />
          )}
        </QueryView>
      </Card>

      <Card title="Instances by role" className="mb-4" testId="instances" description="Pick an instance to see its pool's live prices and the other pools it could run in.">
        <QueryView query={instances} isEmpty={(i) => i.length === 0} empty={<EmptyState title="No instances yet" />}>
          {(rows) => (
            <DataTable
              caption="Instances"
              rows={[...rows].sort((a, b) => ROLES.indexOf(a.role as (typeof ROLES)[number]) - ROLES.indexOf(b.role as (typeof ROLES)[number]))}
              rowKey={(i) => i.id}
              rowTestId={(i) => `instance-${i.cloud_instance_id}`}
              columns={[
                { key: "id", header: "Instance", render: (i) => <div><div className="font-mono text-xs">{i.cloud_instance_id}</div><div className="text-xs text-slate-500">{agentName(agentMap.get(i.agent_id), i.agent_id)}</div></div> },
                { key: "role", header: "Role", render: (i) => <Badge tone={roleTone(i.role)}>{i.role}</Badge> },
                { key: "type", header: "Type / zone", render: (i) => `${i.instance_type ?? "—"} · ${i.availability_zone ?? "—"}` },
                { key: "life", header: "Lifecycle", render: (i) => humanize(i.lifecycle) },
                { key: "price", header: "Price", align: "right", render: (i) => formatUsdPerHour(i.lifecycle === "on_demand" ? i.on_demand_price : i.spot_price) },
                { key: "notice", header: "Notice", render: (i) => (i.notice_status && i.notice_status !== "none" ? <Badge tone="bad">{i.notice_status}</Badge> : "—") },
                {
                  key: "pick",
                  header: <span className="sr-only">Select</span>,
                  render: (i) =>
                    i.role === "TERMINATED" ? null : (
                      <Button variant={chosen?.id === i.id ? "primary" : "secondary"} aria-pressed={chosen?.id === i.id} onClick={() => setSelected(i.id)} aria-label={`Show prices for ${i.cloud_instance_id}`}>
                        Prices
                      </Button>
                    ),
                },
              ]}
            />
          )}
        </QueryView>
      </Card>

      {chosen && (
        <div className="mb-4 grid gap-4 xl:grid-cols-2">
          <Card title={`Live spot price · ${chosen.cloud_instance_id}`} testId="price-card">
            <PriceChart instance={chosen} />
          </Card>
          <Card title="Pools" description={`${chosen.instance_type ?? ""} in ${chosen.region ?? ""}, cheapest first`} testId="pools">
            <Pools instance={chosen} />
          </Card>
        </div>
      )}

      <Card
        title="Savings over time"
        className="mb-4"
        testId="savings-chart"
        description={savings.data?.method}
        actions={
          <>
            <DownloadButton label="Savings CSV" filename="spot-savings.csv" testId="export-savings" fetchFile={() => api.GET("/api/client/{client_id}/export/savings", { params: { ...path, query: { days: 30 } }, parseAs: "blob" })} />
            <DownloadButton label="Switch history CSV" filename="switch-history.csv" testId="export-switch-history" fetchFile={() => api.GET("/api/client/{client_id}/export/switch-history", { params: { ...path, query: { days: 30 } }, parseAs: "blob" })} />
          </>
        }
      >
        <QueryView query={charts} isEmpty={(c) => c.savings_by_day.length === 0} empty={<EmptyState title="No cost data yet" />}>
          {(c) => (
            <LineSeriesChart
              kind="area"
              label="Daily cost versus the on-demand baseline, last 30 days"
              summary={`Savings over ${c.savings_by_day.length} days: ${formatUsd(c.savings_by_day.reduce((s, d) => s + d.savings_usd, 0))}.`}
              data={c.savings_by_day}
              xKey="date"
              series={[
                { key: "on_demand_baseline_usd", label: "On-demand baseline", color: "#94a3b8" },
                { key: "actual_cost_usd", label: "Actual cost", color: "#2563eb" },
                { key: "savings_usd", label: "Savings", color: "#15803d" },
              ]}
              unit="USD"
              formatX={shortDate}
              formatY={axisNumber}
            />
          )}
        </QueryView>
      </Card>

      <div className="mb-4 grid gap-4 xl:grid-cols-2">
        <Card title="Switch history" testId="switch-history">
          <QueryView query={history} isEmpty={(h) => h.length === 0} empty={<EmptyState title="No switches in the last 30 days" />}>
            {(rows) => (
              <DataTable
                caption="Switch history"
                rows={rows.slice(0, 50)}
                rowKey={(s) => s.id}
                columns={[
                  { key: "at", header: "Started", render: (s) => <span className="whitespace-nowrap text-xs">{formatDateTime(s.started_at)}</span> },
                  { key: "what", header: "From → to", render: (s) => <span className="text-xs" title={`${s.from_pool_id ?? ""} → ${s.to_pool_id ?? ""}`}>{s.from_pool_id ? shortId(s.from_pool_id) : (s.from_mode ?? "—")} → {s.to_pool_id ? shortId(s.to_pool_id) : (s.to_mode ?? "—")}</span> },
                  { key: "trigger", header: "Trigger", render: (s) => humanize(s.trigger) },
                  { key: "down", header: "Downtime", align: "right", render: (s) => formatDuration(s.downtime_seconds) },
                  { key: "save", header: "Savings", align: "right", render: (s) => formatUsdPerHour(s.savings_per_hour) },
                  { key: "ok", header: "Result", render: (s) => <Badge tone={s.success ? "good" : "bad"}>{s.success ? "ok" : "failed"}</Badge> },
                ]}
              />
            )}
          </QueryView>
        </Card>
        <Notifications />
      </div>

      {charts.data && charts.data.switches_by_day.some((d) => d.switches > 0) && (
        <Card title="Switches per day" className="mb-4">
          <BarSeriesChart label="Switches per day, last 30 days" summary="Number of instance switches each day." data={charts.data.switches_by_day} xKey="date" series={[{ key: "switches", label: "Switches" }]} unit="switches" formatX={shortDate} />
        </Card>
      )}
    </>
  );
}

export function Fleet() {
  const { clientId } = useTenant();
  useEventStream(["spot."], { ignore: [PRICE_REPORT_TOPIC] }); // price reports refresh only the price views
  return (
    <>
      <PageHeader
        title="Fleet"
        description="Spot agents and their instances: health, roles, pool prices, savings against on-demand, switches and emergencies."
        actions={<ClientPicker allowAll={false} />}
      />
      {clientId ? <FleetView clientId={clientId} /> : <EmptyState title="Pick a client" hint="The fleet view shows one client's agents and instances." />}
    </>
  );
}
