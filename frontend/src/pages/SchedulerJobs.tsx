// Carbon-aware jobs: submit a job (length, deadline, allowed regions) and see the window and region the
// server's planner picked, with the expected CO2e against running it right away.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api, unwrap } from "../api";
import { idempotencyHeaders, useAction } from "../api/actions";
import type { RequestOf, ResponseOf } from "../api/client";
import { useTenant } from "../auth/tenant";
import { DataTable } from "../components/DataTable";
import { EmptyState, ErrorState, QueryView } from "../components/states";
import { Badge, Button, Card, TextField } from "../components/ui";
import { formatCo2e, formatDateTime, formatDuration, formatPercent } from "../lib/format";
import { humanize, statusTone } from "../lib/labels";

export type ScheduledJob = ResponseOf<"/api/scheduler/jobs", "get">[number];

function localInput(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** The job's planned window in words. */
export function plannedWindow(job: Pick<ScheduledJob, "recommendation">): string {
  const r = job.recommendation;
  if (!r.start || !r.end) return r.reason ? humanize(r.reason) : humanize(r.status);
  const pieces = r.pieces && r.pieces.length > 1 ? ` in ${r.pieces.length} pieces` : "";
  return `${formatDateTime(r.start)} → ${formatDateTime(r.end)}${r.region ? ` in ${r.region}` : ""}${pieces}`;
}

export function SchedulerJobs({ onShow }: { onShow: (job: ScheduledJob | null) => void }) {
  const queryClient = useQueryClient();
  const { clientId, isAdmin } = useTenant();
  const instances = useQuery({
    queryKey: ["fleet.instance", "list", clientId],
    queryFn: () => unwrap(api.GET("/api/instances", { params: { query: { client_id: clientId, limit: 1000 } } })),
  });
  const regionsInUse = [...new Set((instances.data?.items ?? []).map((i) => i.region))].sort();
  const typesInUse = [...new Set((instances.data?.items ?? []).map((i) => i.instance_type))].sort();
  const [form, setForm] = useState(() => ({
    name: "",
    hours: "2",
    deadline: localInput(new Date(Date.now() + 24 * 3_600_000)),
    regions: "",
    instanceType: "",
    interruptible: false,
  }));
  const jobs = useQuery({
    queryKey: ["carbon.scheduler", "jobs", clientId],
    queryFn: () => unwrap(api.GET("/api/scheduler/jobs", { params: { query: { client_id: clientId, limit: 50 } } })),
    refetchInterval: 60_000,
  });
  const refresh = () => void queryClient.invalidateQueries({ queryKey: ["carbon.scheduler"] });
  const create = useAction((body: RequestOf<"/api/scheduler/jobs", "post">, key: string) => unwrap(api.POST("/api/scheduler/jobs", { body, headers: idempotencyHeaders(key) })), {
    onSuccess: (job) => {
      onShow(job as ScheduledJob);
      setForm({ ...form, name: "" });
      refresh();
    },
  });
  const cancel = useAction((id: string, key: string) => unwrap(api.DELETE("/api/scheduler/jobs/{job_id}", { params: { path: { job_id: id } }, headers: idempotencyHeaders(key) })), { onSuccess: refresh });
  const runNow = useAction((id: string, key: string) => unwrap(api.POST("/api/scheduler/jobs/{job_id}/run-now", { params: { path: { job_id: id } }, headers: idempotencyHeaders(key) })), { onSuccess: refresh });

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const regions = (form.regions || regionsInUse[0] || "")
      .split(",")
      .map((r) => r.trim())
      .filter(Boolean);
    create.mutate({
      name: form.name.trim(),
      duration_minutes: Math.round(Number(form.hours) * 60),
      deadline: new Date(form.deadline).toISOString(),
      regions,
      // The planner sizes the job's energy from its instance type (CCF power model).
      instance_type: form.instanceType.trim() || typesInUse[0] || "m5.large",
      interruptible: form.interruptible,
      client_id: clientId,
    });
  };
  const canCreate = !isAdmin || clientId !== null;
  const latest = create.data as ScheduledJob | undefined;

  return (
    <Card title="Jobs" className="mt-4" testId="scheduler-jobs" description="Submit a flexible job: the planner picks the lowest-carbon window before its deadline in the regions you allow.">
      {canCreate ? (
        <form onSubmit={submit} className="mb-4 grid gap-3 sm:grid-cols-2 lg:grid-cols-4 lg:items-start" aria-label="Schedule a job">
          <TextField label="Name" value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} required data-testid="job-name" />
          <TextField label="Length" unit="h" type="number" min={0.25} step={0.25} value={form.hours} onChange={(e) => setForm({ ...form, hours: e.target.value })} required data-testid="job-length" />
          <TextField label="Deadline" type="datetime-local" value={form.deadline} onChange={(e) => setForm({ ...form, deadline: e.target.value })} required data-testid="job-deadline" hint="your local time" />
          <TextField
            label="Regions"
            value={form.regions}
            onChange={(e) => setForm({ ...form, regions: e.target.value })}
            placeholder={regionsInUse[0] ?? "us-east-1"}
            hint={regionsInUse.length ? `in use: ${regionsInUse.join(", ")}` : "comma-separated"}
            data-testid="job-regions"
          />
          <TextField
            label="Instance type"
            value={form.instanceType}
            onChange={(e) => setForm({ ...form, instanceType: e.target.value })}
            placeholder={typesInUse[0] ?? "m5.large"}
            data-testid="job-instance-type"
          />
          <div className="flex flex-col gap-2">
            <label className="text-sm">
              <input type="checkbox" checked={form.interruptible} onChange={(e) => setForm({ ...form, interruptible: e.target.checked })} /> Can pause and resume
            </label>
            <Button type="submit" busy={create.isPending} data-testid="create-job">
              Schedule
            </Button>
          </div>
        </form>
      ) : (
        <EmptyState title="Pick a client to schedule jobs for it" />
      )}
      {create.isError && <ErrorState error={create.error} title="Job not scheduled" />}
      {latest && (
        <div role="status" className="mb-4 rounded-md bg-brand-50 p-3 text-sm" data-testid="job-window">
          <p className="font-medium text-brand-800">
            {latest.name}: {plannedWindow(latest)}
          </p>
          {latest.recommendation.expected_co2e_kg != null && (
            <p className="text-slate-700">
              Expected {formatCo2e(latest.recommendation.expected_co2e_kg)}
              {latest.recommendation.baseline_co2e_kg != null && <> against {formatCo2e(latest.recommendation.baseline_co2e_kg)} if run now</>}
              {latest.recommendation.savings_pct != null && <> ({formatPercent(latest.recommendation.savings_pct, 0)} less)</>}.
            </p>
          )}
          {(latest.recommendation.explanation ?? []).length > 0 && <p className="text-xs text-slate-600">{(latest.recommendation.explanation ?? []).join(" ")}</p>}
        </div>
      )}
      {(cancel.isError || runNow.isError) && <ErrorState error={cancel.error ?? runNow.error} />}
      <QueryView query={jobs} isEmpty={(j) => j.length === 0} empty={<EmptyState title="No scheduled jobs" />}>
        {(rows) => (
          <DataTable
            caption="Scheduled jobs"
            rows={rows}
            rowKey={(j) => j.id}
            rowTestId={(j) => `job-${j.name}`}
            columns={[
              { key: "name", header: "Job", render: (j) => <div><div className="font-medium">{j.name}</div><div className="text-xs text-slate-500">{formatDuration(j.duration_minutes * 60)} · by {formatDateTime(j.deadline)}</div></div> },
              { key: "status", header: "Status", render: (j) => <Badge tone={statusTone(j.status)}>{humanize(j.status)}</Badge> },
              { key: "window", header: "Planned window", render: (j) => <span className="text-xs">{plannedWindow(j)}</span> },
              { key: "co2e", header: "Expected CO2e", align: "right", render: (j) => formatCo2e(j.recommendation.expected_co2e_kg) },
              { key: "saving", header: "vs run now", align: "right", render: (j) => formatPercent(j.recommendation.savings_pct, 0) },
              {
                key: "act",
                header: <span className="sr-only">Actions</span>,
                render: (j) =>
                  ["pending", "planned", "scheduled"].includes(j.status) ? (
                    <div className="flex flex-wrap gap-1">
                      <Button variant="ghost" onClick={() => onShow(j)} aria-label={`Show the window of ${j.name} on the chart`}>
                        Show
                      </Button>
                      <Button variant="secondary" busy={runNow.isPending && runNow.variables === j.id} onClick={() => runNow.mutate(j.id)} aria-label={`Run ${j.name} now`}>
                        Run now
                      </Button>
                      <Button variant="ghost" busy={cancel.isPending && cancel.variables === j.id} onClick={() => cancel.mutate(j.id)} aria-label={`Cancel ${j.name}`}>
                        Cancel
                      </Button>
                    </div>
                  ) : null,
              },
            ]}
          />
        )}
      </QueryView>
    </Card>
  );
}
