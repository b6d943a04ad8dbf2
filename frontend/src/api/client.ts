// The typed API client. `schema.d.ts` is generated from the server's OpenAPI schema (`npm run gen`);
// nothing here describes a route by hand. Two middlewares add the bearer token and, on every mutation,
// an `Idempotency-Key`; a retrying fetch re-sends the very same Request (same key) after a network
// failure or a 502/503/504, so the server replays its first answer instead of acting twice.
import createClient, { type Middleware } from "openapi-fetch";
import { ApiError, networkError, parseProblem } from "./problem";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];
export type ApiClient = ReturnType<typeof createClient<paths>>;

const MUTATING = new Set(["POST", "PUT", "PATCH", "DELETE"]);
export const IDEMPOTENCY_HEADER = "Idempotency-Key";

/** A v4 UUID; `crypto.randomUUID` exists only in secure contexts, so plain-http LAN hosts fall back. */
export function newIdempotencyKey(): string {
  const c = globalThis.crypto;
  if (typeof c?.randomUUID === "function") return c.randomUUID();
  const bytes = new Uint8Array(16);
  c.getRandomValues(bytes);
  bytes[6] = (bytes[6]! & 0x0f) | 0x40;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function authMiddleware(getToken: () => string | null, onUnauthorized?: () => void): Middleware {
  // Requests sent with the stored session token: a 401 on one of those means the session is over.
  const withStoredToken = new WeakSet<Request>();
  return {
    onRequest({ request }) {
      if (request.headers.has("Authorization")) return undefined; // an explicit token (sign-in check)
      const token = getToken();
      if (!token) return undefined;
      request.headers.set("Authorization", `Bearer ${token}`);
      withStoredToken.add(request);
      return request;
    },
    onResponse({ request, response }) {
      if (response.status === 401 && withStoredToken.has(request)) onUnauthorized?.();
      return undefined;
    },
  };
}

/** Adds an Idempotency-Key to every mutation that does not carry one already (one key per call). */
export function idempotencyMiddleware(newKey: () => string = newIdempotencyKey): Middleware {
  return {
    onRequest({ request }) {
      if (!MUTATING.has(request.method.toUpperCase())) return undefined;
      if (!request.headers.has(IDEMPOTENCY_HEADER)) request.headers.set(IDEMPOTENCY_HEADER, newKey());
      return request;
    },
  };
}

export interface RetryPolicy {
  attempts: number; // total tries, first included
  baseDelayMs: number;
  sleep?: (ms: number) => Promise<void>;
}

const RETRYABLE_STATUS = new Set([502, 503, 504]);
const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Re-sends the same Request after a network failure or a gateway/unavailable answer, with capped
 * exponential back-off and full jitter. Mutations are retried only when they carry an Idempotency-Key,
 * which a clone of the Request keeps, so the server recognises the retry.
 */
export function retryingFetch(
  base: (input: Request) => Promise<Response>,
  policy: RetryPolicy = { attempts: 3, baseDelayMs: 400 },
): (input: Request) => Promise<Response> {
  const sleep = policy.sleep ?? defaultSleep;
  return async (request: Request) => {
    const safe = !MUTATING.has(request.method.toUpperCase()) || request.headers.has(IDEMPOTENCY_HEADER);
    const attempts = safe ? Math.max(1, policy.attempts) : 1;
    const template = request.clone();
    for (let attempt = 1; ; attempt++) {
      const last = attempt >= attempts;
      try {
        const response = await base(attempt === 1 ? request : template.clone());
        if (last || !RETRYABLE_STATUS.has(response.status)) return response;
      } catch (error) {
        if (last || (error instanceof DOMException && error.name === "AbortError")) throw error;
      }
      const cap = policy.baseDelayMs * 2 ** (attempt - 1);
      await sleep(Math.round(Math.random() * cap));
    }
  };
}

export interface ClientConfig {
  baseUrl?: string;
  getToken: () => string | null;
  onUnauthorized?: () => void;
  fetch?: (input: Request) => Promise<Response>;
  retry?: RetryPolicy;
  newKey?: () => string;
}

export function createApi(config: ClientConfig): ApiClient {
  const base = config.fetch ?? ((input: Request) => globalThis.fetch(input));
  const client = createClient<paths>({
    baseUrl: config.baseUrl ?? "",
    fetch: retryingFetch(base, config.retry),
  });
  client.use(authMiddleware(config.getToken, config.onUnauthorized));
  client.use(idempotencyMiddleware(config.newKey));
  return client;
}

interface FetchResult<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** Await an openapi-fetch call: its data on success, an ApiError (problem+json parsed) otherwise. */
export async function unwrap<T>(call: Promise<FetchResult<T>>): Promise<T> {
  let result: FetchResult<T>;
  try {
    result = await call;
  } catch (error) {
    if (error instanceof ApiError) throw error;
    throw networkError(error);
  }
  if (!result.response.ok || result.error !== undefined) {
    throw parseProblem(result.response.status, result.error, result.response.headers.get("X-Request-ID"));
  }
  return result.data as T;
}

/**
 * The JSON a route answers with, read from the generated paths. Use it instead of a schema's component name
 * where FastAPI qualifies that name (two models with the same class name get module-prefixed names).
 */
export type ResponseOf<P extends keyof paths, M extends keyof paths[P]> = paths[P][M] extends {
  responses: { 200: { content: { "application/json": infer R } } };
}
  ? R
  : never;

/** The JSON body a route accepts, read from the generated paths. */
export type RequestOf<P extends keyof paths, M extends keyof paths[P]> = paths[P][M] extends { requestBody?: infer RB }
  ? NonNullable<RB> extends { content: { "application/json": infer B } }
    ? B
    : never
  : never;
