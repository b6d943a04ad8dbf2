import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, unwrap } from "../api";
import type { ResponseOf } from "../api/client";
import { idempotencyHeaders, useAction } from "../api/actions";
import { ClientPicker, useTenant } from "../auth/tenant";
import { DataTable } from "../components/DataTable";
import { EmptyState, ErrorState, QueryView } from "../components/states";
import { Badge, Button, Card, PageHeader, SelectField, StatCard } from "../components/ui";
import { useEventStream } from "../hooks/useEventStream";
import { formatCo2e, formatDateTime, formatNumber, formatPercent, formatUsd } from "../lib/format";
import { humanize, statusTone } from "../lib/labels";

type Recommendation = ResponseOf<"/api/instances/recommendations", "get">["items"][number];
type Instance = ResponseOf<"/api/instances", "get">["items"][number];

function Decide({ rec }: { rec: Recommendation }) {
  const queryClient = useQueryClient();
  const refresh = () => void queryClient.invalidateQueries({ queryKey: ["carbon.rightsizing"] });
  const accept = useAction(
    (_: null, key: string) =>
      unwrap(api.POST("/api/instances/recommendations/{rec_id}/accept", { params: { path: { rec_id: rec.id } }, body: { request_id: key }, headers: idempotencyHeaders(key) })),
    { onSuccess: refresh },
  );
  const dismiss = useAction(
    (_: null, key: string) =>
      unwrap(api.POST("/api/instances/recommendations/{rec_id}/dismiss", { params: { path: { rec_id: rec.id } }, body: { reason: "dismissed in the UI" }, headers: idempotencyHeaders(key) })),
    { onSuccess: refresh },
  );
  if (rec.status !== "open") return null;
  return (
    <div className="flex flex-wrap gap-1">
      <Button busy={accept.isPending} disabled={dismiss.isPending} onClick={() => accept.mutate(null)} aria-label={`Apply: resize to ${rec.recommended_type ?? ""}`} data-testid="accept-recommendation">
        Apply
      </Button>
      <Button variant="ghost" busy={dismiss.isPending} disabled={accept.isPending} onClick={() => dismiss.mutate(null)} aria-label="Dismiss recommendation">
        Dismiss
      </Button>
      {(accept.isError || dismiss.isError) && <ErrorState error={accept.error ?? dismiss.error} title="Not applied" />}
    </div>
  );
}

export function Instances() {
  const { clientId } = useTenant();
  const [status, setStatus] = useState("open");
  useEventStream(["carbon.rightsizing", "carbon.action"]);
  const recs = useQuery({
    queryKey: ["carbon.rightsizing", "list", clientId, status],
    queryFn: () => unwrap(api.GET("/api/instances/recommendations", { params: { query: { client_id: clientId, status: status || null, actionable: true } } })),
    meta: { topics: ["carbon.action"] },
  });
  const instances = useQuery({
    queryKey: ["fleet.instance", "list", clientId],
    queryFn: () => unwrap(api.GET("/api/instances", { params: { query: { client_id: clientId, limit: 1000 } } })),
    meta: { topics: ["carbon.action", "carbon.rightsizing"] },
  });
  const byId = new Map<string, Instance>((instances.data?.items ?? []).map((i) => [i.id, i]));
  const running = (instances.data?.items ?? []).filter((i) => i.state === "running").length;

  return (
    <>
      <PageHeader
        title="Instances"
        description="Rightsizing: instance types sized to the 95th percentile of measured CPU and memory, with the monthly CO2e and cost each change saves."
        actions={<ClientPicker />}
      />
      <div className="mb-4 grid grid-cols-2 gap-3 lg:grid-cols-4">
        <StatCard label="Instances" value={instances.data ? formatNumber(instances.data.total, 0) : null} hint={instances.data ? `${running} running in this page` : undefined} testId="instances-total" />
        <StatCard label="Recommendations" value={recs.data ? formatNumber(recs.data.total, 0) : null} testId="recommendations-total" />
        <StatCard label="CO2e saved if applied" value={recs.data ? formatCo2e(recs.data.monthly_co2e_savings_kg) : null} hint="per month" tone="good" testId="rightsizing-co2e" />
        <StatCard label="Cost saved if applied" value={recs.data ? formatUsd(recs.data.monthly_cost_savings_usd) : null} hint="per month" tone="good" testId="rightsizing-cost" />
      </div>
      <Card
        title="Rightsizing recommendations"
        testId="recommendations"
        actions={
          <SelectField
            label="Status"
            value={status}
            onChange={(e) => setStatus(e.target.value)}
            options={[{ value: "", label: "Any" }, ...["open", "accepted", "dismissed", "superseded"].map((s) => ({ value: s, label: humanize(s) }))]}
          />
        }
      >
        {instances.isError && <ErrorState error={instances.error} title="Instance names could not be loaded" />}
        <QueryView query={recs} isEmpty={(r) => r.items.length === 0} empty={<EmptyState title="Nothing to resize" hint="Recommendations need a few days of utilisation metrics per instance." />}>
          {(page) => (
            <DataTable
              caption="Rightsizing recommendations"
              rows={page.items}
              rowKey={(r) => r.id}
              rowTestId={(r) => `recommendation-${r.id}`}
              columns={[
                {
                  key: "inst",
                  header: "Instance",
                  render: (r) => {
                    const inst = byId.get(r.instance_id);
                    return (
                      <div>
                        <div className="font-medium">{inst?.name ?? inst?.provider_id ?? r.instance_id}</div>
                        <div className="text-xs text-slate-500">{r.region ?? inst?.region ?? "—"}</div>
                      </div>
                    );
                  },
                },
                { key: "action", header: "Change", render: (r) => <span className="whitespace-nowrap"><Badge tone={r.action === "downsize" ? "good" : "warn"}>{r.action}</Badge> {r.current_type} → {r.recommended_type ?? "—"}</span> },
                { key: "cpu", header: "CPU p95", align: "right", render: (r) => formatPercent(r.cpu_p95) },
                { key: "mem", header: "Memory p95", align: "right", render: (r) => formatPercent(r.memory_p95) },
                { key: "co2e", header: "CO2e / month", align: "right", render: (r) => formatCo2e(r.monthly_co2e_savings_kg) },
                { key: "cost", header: "Cost / month", align: "right", render: (r) => formatUsd(r.monthly_cost_savings_usd) },
                { key: "status", header: "Status", render: (r) => <span><Badge tone={statusTone(r.status)}>{r.status}</Badge><div className="text-xs text-slate-500">{formatDateTime(r.computed_at)}</div></span> },
                { key: "decide", header: <span className="sr-only">Actions</span>, render: (r) => <Decide rec={r} /> },
              ]}
            />
          )}
        </QueryView>
      </Card>
    </>
  );
}
