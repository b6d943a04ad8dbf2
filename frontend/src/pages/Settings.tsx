import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api, unwrap, type Schemas } from "../api";
import type { ResponseOf, RequestOf } from "../api/client";
import { idempotencyHeaders, useAction } from "../api/actions";
import { ClientPicker, useTenant } from "../auth/tenant";
import { EmptyState, ErrorState, QueryView } from "../components/states";
import { Badge, Button, Card, PageHeader, SelectField, TextField, Toggle } from "../components/ui";
import { formatDateTime } from "../lib/format";

type SettingValue = Schemas["SettingValue"];
type Policy = ResponseOf<"/api/automation/policy", "get">;

const CREDENTIALS: { key: string; label: string; secret: boolean; hint?: string }[] = [
  { key: "aws_access_key_id", label: "AWS access key id", secret: true },
  { key: "aws_secret_access_key", label: "AWS secret access key", secret: true },
  { key: "aws_regions", label: "AWS regions", secret: false, hint: "comma-separated, e.g. us-east-1, eu-west-1" },
  { key: "electricitymaps_api_key", label: "Electricity Maps API key", secret: true },
  { key: "watttime_username", label: "WattTime username", secret: false },
  { key: "watttime_password", label: "WattTime password", secret: true },
  { key: "cloudflare_api_token", label: "Cloudflare Radar API token", secret: true },
  { key: "intensity_providers", label: "Intensity providers, in order", secret: false, hint: "comma-separated: csv, electricitymaps, watttime" },
];
const LIST_KEYS = new Set(["aws_regions", "intensity_providers"]);

function describe(value: SettingValue | undefined): string {
  if (!value || !value.is_set) return "not set";
  const shown = Array.isArray(value.value) ? value.value.join(", ") : String(value.value ?? "");
  return `${shown} (from ${value.source ?? "?"})`;
}

/** Credentials are write-only: the form starts empty, shows only a mask of what is stored, and sends only typed fields. */
function Credentials({ values }: { values: Record<string, SettingValue> }) {
  const queryClient = useQueryClient();
  const [draft, setDraft] = useState<Record<string, string>>({});
  const save = useAction(
    (body: Record<string, unknown>, key: string) => unwrap(api.PUT("/api/settings", { body: { global: body }, headers: idempotencyHeaders(key) })),
    {
      onSuccess: () => {
        setDraft({});
        void queryClient.invalidateQueries({ queryKey: ["fleet.settings"] });
      },
    },
  );
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const body: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(draft)) {
      if (!v.trim()) continue;
      body[k] = LIST_KEYS.has(k) ? v.split(",").map((s) => s.trim()).filter(Boolean) : v.trim();
    }
    if (Object.keys(body).length) save.mutate(body);
  };
  const dirty = Object.values(draft).some((v) => v.trim());
  return (
    <Card title="Cloud and data credentials" description="Write-only: stored secrets are never sent back, only a mask. Leave a field empty to keep its value." className="mb-4" testId="credentials">
      <form onSubmit={submit} className="grid gap-3 md:grid-cols-2" autoComplete="off">
        {CREDENTIALS.map((c) => (
          <TextField
            key={c.key}
            label={c.label}
            type={c.secret ? "password" : "text"}
            autoComplete={c.secret ? "new-password" : "off"}
            placeholder={values[c.key]?.is_set ? "(unchanged)" : ""}
            value={draft[c.key] ?? ""}
            onChange={(e) => setDraft({ ...draft, [c.key]: e.target.value })}
            hint={`Current: ${describe(values[c.key])}${c.hint ? ` · ${c.hint}` : ""}`}
            data-testid={`setting-${c.key}`}
          />
        ))}
        <div className="md:col-span-2">
          {save.isError && <ErrorState error={save.error} title="Not saved" />}
          {save.isSuccess && !dirty && (
            <p role="status" className="mb-2 text-sm text-brand-800">
              Saved.
            </p>
          )}
          <Button type="submit" disabled={!dirty} busy={save.isPending} data-testid="save-credentials">
            Save credentials
          </Button>
        </div>
      </form>
    </Card>
  );
}

function ClientSettings({ clientId, values }: { clientId: string | null; values: Record<string, SettingValue> }) {
  const queryClient = useQueryClient();
  const initial = {
    scope1: String(values.scope1_co2e_kg_per_month?.value ?? ""),
    utilisation: values.default_utilisation?.value != null ? String(Number(values.default_utilisation.value) * 100) : "",
    alerts: Array.isArray(values.budget_alert_pcts?.value) ? (values.budget_alert_pcts.value as number[]).join(", ") : "",
  };
  const [form, setForm] = useState(initial);
  const save = useAction(
    (body: NonNullable<RequestOf<"/api/settings", "put">["client"]>, key: string) =>
      unwrap(api.PUT("/api/settings", { params: { query: { client_id: clientId } }, body: { client: body }, headers: idempotencyHeaders(key) })),
    { onSuccess: () => void queryClient.invalidateQueries({ queryKey: ["fleet.settings"] }) },
  );
  const submit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate({
      scope1_co2e_kg_per_month: form.scope1 === "" ? null : Number(form.scope1),
      default_utilisation: form.utilisation === "" ? null : Number(form.utilisation) / 100,
      budget_alert_pcts: form.alerts
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean)
        .map(Number),
    });
  };
  return (
    <Card title="Carbon accounting" className="mb-4" testId="client-settings">
      <form onSubmit={submit} className="grid gap-3 md:grid-cols-3 md:items-end">
        <TextField label="Scope 1 emissions" unit="kg CO2e per month" type="number" min={0} step="any" value={form.scope1} onChange={(e) => setForm({ ...form, scope1: e.target.value })} hint="Direct emissions (generators, fuel) you report yourself" />
        <TextField label="Default utilisation" unit="%" type="number" min={0} max={100} step="any" value={form.utilisation} onChange={(e) => setForm({ ...form, utilisation: e.target.value })} hint="Used for instances without measured CPU" />
        <TextField label="Budget alerts at" unit="% of budget" value={form.alerts} onChange={(e) => setForm({ ...form, alerts: e.target.value })} hint="comma-separated, e.g. 80, 100" />
        <div className="md:col-span-3">
          {save.isError && <ErrorState error={save.error} title="Not saved" />}
          <Button type="submit" busy={save.isPending}>
            Save
          </Button>
        </div>
      </form>
    </Card>
  );
}

const DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

function Automation({ clientId }: { clientId: string | null }) {
  const queryClient = useQueryClient();
  const policy = useQuery({ queryKey: ["carbon.automation", "policy", clientId], queryFn: () => unwrap(api.GET("/api/automation/policy", { params: { query: { client_id: clientId } } })) });
  const update = useAction(
    (body: RequestOf<"/api/automation/policy", "put">, key: string) => unwrap(api.PUT("/api/automation/policy", { params: { query: { client_id: clientId } }, body, headers: idempotencyHeaders(key) })),
    {
      onSuccess: (data) => queryClient.setQueryData(["carbon.automation", "policy", clientId], data),
      onError: () => void queryClient.invalidateQueries({ queryKey: ["carbon.automation", "policy", clientId] }),
    },
  );
  const change = (p: Policy, patch: Partial<RequestOf<"/api/automation/policy", "put">>) => update.mutate({ ...patch, version: p.version });
  return (
    <Card title="Automation" description="What Spectra may change on its own. In recommend mode it only proposes; apply acts within the maintenance window and the daily change budget." testId="automation">
      <QueryView query={policy}>
        {(p) => (
          <div className="max-w-2xl">
            {update.isError && <ErrorState error={update.error} title="Not saved" />}
            <SelectField
              label="Mode"
              value={p.mode}
              onChange={(e) => change(p, { mode: e.target.value })}
              options={[
                { value: "off", label: "Off" },
                { value: "recommend", label: "Recommend only" },
                { value: "apply", label: "Apply automatically" },
              ]}
              className="mb-2 max-w-xs"
              data-testid="automation-mode"
            />
            <div className="divide-y divide-slate-100">
              <Toggle label="Rightsize instances" hint={`when a change saves at least $${p.rightsize_min_monthly_savings_usd}/month`} checked={p.auto_rightsize} disabled={update.isPending} onChange={(v) => change(p, { auto_rightsize: v })} testId="toggle-auto-rightsize" />
              <Toggle label="Migrate to cleaner regions" hint={`when CO2e falls by ${p.migrate_min_savings_pct}\u202f% or more and latency stays under ${p.migrate_max_latency_ms}\u202fms`} checked={p.auto_migrate} disabled={update.isPending} onChange={(v) => change(p, { auto_migrate: v })} testId="toggle-auto-migrate" />
              <Toggle label="Schedule flexible jobs in low-carbon windows" checked={p.auto_schedule} disabled={update.isPending} onChange={(v) => change(p, { auto_schedule: v })} testId="toggle-auto-schedule" />
              <Toggle label="Stop idle instances" hint={`notice after ${p.idle_notice_hours}\u202fh idle, stop after ${p.idle_stop_after_hours}\u202fh`} checked={p.stop_idle} disabled={update.isPending} onChange={(v) => change(p, { stop_idle: v })} testId="toggle-stop-idle" />
            </div>
            <p className="mt-2 text-sm text-slate-600">
              Daily change budget: {p.daily_change_budget} changes · maintenance window:{" "}
              {p.maintenance_window ? describeWindow(p.maintenance_window) : "any time"}
              {p.updated_at && <span className="text-xs text-slate-500"> · updated {formatDateTime(p.updated_at)}</span>}
            </p>
            {p.mode === "apply" && <Badge tone="warn">Spectra will act on its own within these limits</Badge>}
          </div>
        )}
      </QueryView>
    </Card>
  );
}

function describeWindow(w: Record<string, unknown>): string {
  const days = Array.isArray(w.days) ? (w.days as number[]).map((d) => DAYS[d] ?? d).join(", ") : "";
  return `${days} from ${String(w.start ?? "00:00")} UTC for ${String(w.hours ?? "?")}\u202fh`;
}

export function Settings() {
  const { clientId, isAdmin } = useTenant();
  const settings = useQuery({ queryKey: ["fleet.settings", clientId], queryFn: () => unwrap(api.GET("/api/settings", { params: { query: { client_id: clientId } } })) });
  return (
    <>
      <PageHeader title="Settings" description="Credentials for clouds and carbon-data providers, carbon accounting inputs and automation." actions={<ClientPicker />} />
      <QueryView query={settings}>
        {(s) => (
          <>
            {isAdmin && s.global && <Credentials values={s.global as Record<string, SettingValue>} />}
            {s.client ? <ClientSettings key={clientId ?? "self"} clientId={clientId} values={s.client as Record<string, SettingValue>} /> : isAdmin && <EmptyState title="Pick a client to edit its carbon accounting and automation" />}
          </>
        )}
      </QueryView>
      {(!isAdmin || clientId) && <Automation clientId={clientId} />}
    </>
  );
}
