// A Server-Sent Events client over fetch. Spectra names each event after its topic (`event: spot.…`),
// which a browser EventSource only delivers to listeners registered for that exact name; reading the
// stream ourselves delivers every topic, sends the token in the Authorization header instead of the URL,
// and resumes after the last event id on reconnect.

export interface StreamEvent {
  id: number | null;
  topic: string;
  at: string | null;
  clientId: string | null;
  payload: Record<string, unknown>;
}

interface RawEvent {
  id: string | null;
  event: string;
  data: string;
}

/** Incremental parser for the text/event-stream format (WHATWG HTML §9.2.6). */
export class SseParser {
  private buffer = "";
  private data: string[] = [];
  private event = "";
  private id: string | null = null;
  retryMs: number | null = null;

  feed(chunk: string): RawEvent[] {
    this.buffer += chunk;
    const out: RawEvent[] = [];
    let newline: number;
    while ((newline = this.buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = this.buffer.slice(0, newline);
      const width = this.buffer.startsWith("\r\n", newline) ? 2 : 1;
      this.buffer = this.buffer.slice(newline + width);
      if (line === "") {
        if (this.data.length) out.push({ id: this.id, event: this.event || "message", data: this.data.join("\n") });
        this.data = [];
        this.event = "";
        continue;
      }
      if (line.startsWith(":")) continue; // comment / heartbeat
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "data") this.data.push(value);
      else if (field === "event") this.event = value;
      else if (field === "id" && !value.includes("\0")) this.id = value;
      else if (field === "retry" && /^\d+$/.test(value)) this.retryMs = Number(value);
    }
    return out;
  }
}

/** Spectra's event JSON ({id, topic, client_id, at, payload}); the SSE `event:` name is the fallback topic. */
export function toStreamEvent(raw: RawEvent): StreamEvent | null {
  let body: unknown;
  try {
    body = JSON.parse(raw.data);
  } catch {
    return null;
  }
  if (typeof body !== "object" || body === null) return null;
  const record = body as Record<string, unknown>;
  const topic = typeof record.topic === "string" ? record.topic : raw.event;
  const id = typeof record.id === "number" ? record.id : raw.id !== null && /^\d+$/.test(raw.id) ? Number(raw.id) : null;
  return {
    id,
    topic,
    at: typeof record.at === "string" ? record.at : null,
    clientId: typeof record.client_id === "string" ? record.client_id : null,
    payload:
      typeof record.payload === "object" && record.payload !== null ? (record.payload as Record<string, unknown>) : {},
  };
}

export type StreamStatus = "connecting" | "open" | "reconnecting" | "closed";

export interface StreamOptions {
  url: string; // e.g. /api/events/stream?topics=spot.
  token: string;
  onEvent: (event: StreamEvent) => void;
  onStatus?: (status: StreamStatus) => void;
  fetchImpl?: typeof fetch;
  minRetryMs?: number;
  maxRetryMs?: number;
}

/** Connect and keep reconnecting (with back-off) until the returned function is called. */
export function openEventStream(options: StreamOptions): () => void {
  const controller = new AbortController();
  const fetchImpl = options.fetchImpl ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));
  const minRetry = options.minRetryMs ?? 2000;
  const maxRetry = options.maxRetryMs ?? 30000;
  let lastId: string | null = null;
  let failures = 0;

  const run = async () => {
    while (!controller.signal.aborted) {
      options.onStatus?.(failures ? "reconnecting" : "connecting");
      const parser = new SseParser();
      try {
        const headers: Record<string, string> = { Authorization: `Bearer ${options.token}`, Accept: "text/event-stream" };
        if (lastId !== null) headers["Last-Event-ID"] = lastId;
        const response = await fetchImpl(options.url, { headers, signal: controller.signal, cache: "no-store" });
        if (response.status === 401 || response.status === 403) {
          options.onStatus?.("closed"); // the session is over; AuthProvider handles it on the next request
          return;
        }
        if (!response.ok || !response.body) throw new Error(`event stream answered ${response.status}`);
        options.onStatus?.("open");
        failures = 0;
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          for (const raw of parser.feed(value)) {
            if (raw.id !== null) lastId = raw.id;
            const event = toStreamEvent(raw);
            if (event) options.onEvent(event);
          }
        }
      } catch (error) {
        if (controller.signal.aborted) break;
        void error;
      }
      if (controller.signal.aborted) break;
      failures += 1;
      const wait = Math.min(maxRetry, (parser.retryMs ?? minRetry) * 2 ** Math.min(failures - 1, 4));
      options.onStatus?.("reconnecting");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        controller.signal.addEventListener("abort", () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    options.onStatus?.("closed");
  };
  void run();
  return () => controller.abort();
}
