// RFC 9457 problem details as Spectra sends them: a stable machine `code`, a human `detail`, the
// `request_id` to quote in a bug report, and for invalid input an `errors` list naming each field or row.

export interface ProblemItem {
  field?: string;
  row?: number | string;
  line?: number | string;
  column?: string;
  msg: string;
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly detail: string;
  readonly title: string;
  readonly requestId: string | null;
  readonly errors: ProblemItem[];
  readonly currentVersion: number | null;

  constructor(init: {
    status: number;
    code: string;
    detail: string;
    title?: string;
    requestId?: string | null;
    errors?: ProblemItem[];
    currentVersion?: number | null;
  }) {
    super(init.detail);
    this.name = "ApiError";
    this.status = init.status;
    this.code = init.code;
    this.detail = init.detail;
    this.title = init.title ?? init.code;
    this.requestId = init.requestId ?? null;
    this.errors = init.errors ?? [];
    this.currentVersion = init.currentVersion ?? null;
  }

  /** Where an item points: "field amount", "row 3", "line 7"; empty when it names nothing. */
  static where(item: ProblemItem): string {
    if (item.field !== undefined) return `field ${item.field}`;
    if (item.row !== undefined) return `row ${item.row}`;
    if (item.line !== undefined) return `line ${item.line}`;
    if (item.column !== undefined) return `column ${item.column}`;
    return "";
  }
}

const STATUS_CODES: Record<number, string> = {
  400: "bad_request",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  409: "conflict",
  422: "validation_error",
  429: "too_many_requests",
  500: "internal_error",
  502: "bad_gateway",
  503: "service_unavailable",
  504: "gateway_timeout",
};

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function asText(value: unknown): string | null {
  if (typeof value === "string" && value.trim()) return value;
  if (typeof value === "number") return String(value);
  return null;
}

function parseItems(raw: unknown): ProblemItem[] {
  if (!Array.isArray(raw)) return [];
  const items: ProblemItem[] = [];
  for (const entry of raw) {
    if (!isRecord(entry)) continue;
    // FastAPI's own validation shape ({loc, msg}) is folded into `field` so both shapes read the same.
    const loc = Array.isArray(entry.loc) ? entry.loc.filter((p) => p !== "body").join(".") : undefined;
    const item: ProblemItem = { msg: asText(entry.msg) ?? asText(entry.message) ?? "invalid" };
    const field = asText(entry.field) ?? (loc || null);
    if (field !== null) item.field = field;
    const row = entry.row;
    if (typeof row === "number" || typeof row === "string") item.row = row;
    const line = entry.line;
    if (typeof line === "number" || typeof line === "string") item.line = line;
    const column = asText(entry.column);
    if (column !== null) item.column = column;
    items.push(item);
  }
  return items;
}

/** Turn any error body (problem+json, FastAPI's {detail}, plain text, nothing) into an ApiError. */
export function parseProblem(status: number, body: unknown, requestIdHeader: string | null = null): ApiError {
  const fallbackCode = STATUS_CODES[status] ?? (status >= 500 ? "server_error" : "http_error");
  if (isRecord(body)) {
    const errors = parseItems(body.errors ?? (Array.isArray(body.detail) ? body.detail : undefined));
    const detail =
      asText(body.detail) ??
      asText(body.message) ??
      asText(body.error) ??
      asText(body.title) ??
      (errors.length ? "Invalid input" : `HTTP ${status}`);
    const version = body.current_version;
    return new ApiError({
      status,
      code: asText(body.code) ?? fallbackCode,
      detail,
      title: asText(body.title) ?? undefined,
      requestId: asText(body.request_id) ?? requestIdHeader,
      errors,
      currentVersion: typeof version === "number" ? version : null,
    });
  }
  const text = asText(body);
  return new ApiError({
    status,
    code: fallbackCode,
    detail: text && text.length < 300 ? text : `HTTP ${status}`,
    requestId: requestIdHeader,
  });
}

/** The error a failed `fetch` (no response at all) becomes. */
export function networkError(cause: unknown): ApiError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new ApiError({ status: 0, code: "network_error", detail: `The server could not be reached (${reason})` });
}

export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof Error) return new ApiError({ status: 0, code: "client_error", detail: error.message });
  return new ApiError({ status: 0, code: "client_error", detail: String(error) });
}
