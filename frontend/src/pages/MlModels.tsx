// The Spot decision engine's model registry: upload (validated on the server before it is stored),
// activate, fall back to the previous model.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useRef, useState, type FormEvent } from "react";
import { api, unwrap } from "../api";
import { idempotencyHeaders, useAction } from "../api/actions";
import { DataTable } from "../components/DataTable";
import { EmptyState, ErrorState, QueryView } from "../components/states";
import { Badge, Button, Card, SelectField, TextField } from "../components/ui";
import { formatDateTime } from "../lib/format";
import { humanize, statusTone } from "../lib/labels";

export function MlModels() {
  const queryClient = useQueryClient();
  const sessions = useQuery({ queryKey: ["spot.model", "sessions"], queryFn: () => unwrap(api.GET("/api/admin/ml-models/sessions")) });
  const refresh = () => void queryClient.invalidateQueries({ queryKey: ["spot.model"] });
  const fileInput = useRef<HTMLInputElement>(null);
  const [form, setForm] = useState({ name: "", version: "", framework: "skops", notes: "" });

  const upload = useAction(
    (vars: { name: string; version: string; framework: string; notes: string; file: File }, key: string) => {
      const data = new FormData();
      data.set("file", vars.file);
      data.set("name", vars.name);
      data.set("version", vars.version);
      data.set("framework", vars.framework);
      if (vars.notes) data.set("notes", vars.notes);
      return unwrap(
        api.POST("/api/admin/ml-models/upload", {
          // The typed body documents the fields; the multipart FormData is what is sent.
          body: { file: vars.file.name, name: vars.name, version: vars.version, framework: vars.framework },
          bodySerializer: () => data,
          headers: idempotencyHeaders(key),
        }),
      );
    },
    {
      onSuccess: () => {
        setForm({ name: "", version: "", framework: "skops", notes: "" });
        if (fileInput.current) fileInput.current.value = "";
        refresh();
      },
    },
  );
  const activate = useAction((modelId: string, key: string) => unwrap(api.POST("/api/admin/ml-models/activate", { body: { model_id: modelId }, headers: idempotencyHeaders(key) })), { onSuccess: refresh });
  const fallback = useAction((kind: "decision_engine" | "interruption_risk", key: string) => unwrap(api.POST("/api/admin/ml-models/fallback", { body: { kind }, headers: idempotencyHeaders(key) })), { onSuccess: refresh });

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const file = fileInput.current?.files?.[0];
    if (file) upload.mutate({ ...form, file });
  };
  const models = (sessions.data ?? []).flatMap((s) => s.models);

  return (
    <Card title="ML models" testId="ml-models" description="Interruption-risk models for the Spot decision engine (skops or ONNX). Each upload is loaded and scored on sample rows before it is stored.">
      <form onSubmit={submit} className="mb-4 grid gap-3 md:grid-cols-5 md:items-end" aria-label="Upload a model">
        <div>
          <label htmlFor="model-file" className="block text-sm font-medium text-slate-700">
            Model file
          </label>
          <input id="model-file" ref={fileInput} type="file" accept=".skops,.onnx" required className="mt-1 block w-full text-sm" />
        </div>
        <TextField label="Name" value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} required />
        <TextField label="Version" value={form.version} onChange={(e) => setForm({ ...form, version: e.target.value })} required />
        <SelectField label="Format" value={form.framework} onChange={(e) => setForm({ ...form, framework: e.target.value })} options={[{ value: "skops", label: "skops (scikit-learn)" }, { value: "onnx", label: "ONNX" }]} />
        <Button type="submit" busy={upload.isPending}>
          Upload
        </Button>
      </form>
      {upload.isError && <ErrorState error={upload.error} title="Model rejected" />}
      {(activate.isError || fallback.isError) && <ErrorState error={activate.error ?? fallback.error} />}
      <QueryView query={sessions} isEmpty={() => models.length === 0} empty={<EmptyState title="No models uploaded" hint="The built-in rules decide until a model is activated." />}>
        {() => (
          <>
            <DataTable
              caption="ML models"
              rows={models}
              rowKey={(m) => m.id}
              columns={[
                { key: "name", header: "Model", render: (m) => <div><div className="font-medium">{m.name} <span className="text-slate-500">v{m.version}</span></div><div className="text-xs text-slate-500">{humanize(m.kind)} · {m.framework} · {(m.size_bytes / 1024).toFixed(1)}{"\u202f"}KiB</div></div> },
                { key: "status", header: "Status", render: (m) => <Badge tone={statusTone(m.status)}>{m.status}</Badge> },
                { key: "decisions", header: "Decisions", align: "right", render: (m) => m.decisions },
                { key: "uploaded", header: "Uploaded", render: (m) => <span className="text-xs">{formatDateTime(m.uploaded_at)} by {m.uploaded_by ?? "—"}</span> },
                {
                  key: "act",
                  header: <span className="sr-only">Actions</span>,
                  render: (m) =>
                    m.status === "active" ? (
                      <Button variant="ghost" busy={fallback.isPending} onClick={() => fallback.mutate(m.kind === "decision_engine" ? "decision_engine" : "interruption_risk")} aria-label={`Fall back from ${m.name} ${m.version}`}>
                        Fall back
                      </Button>
                    ) : (
                      <Button variant="secondary" busy={activate.isPending && activate.variables === m.id} onClick={() => activate.mutate(m.id)} aria-label={`Activate ${m.name} ${m.version}`}>
                        Activate
                      </Button>
                    ),
                },
              ]}
            />
          </>
        )}
      </QueryView>
    </Card>
  );
}
