// @vitest-environment node
import { describe, expect, it, vi } from "vitest";
import { createApi, IDEMPOTENCY_HEADER, retryingFetch, unwrap } from "./client";
import { ApiError } from "./problem";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function json(status: number, body: unknown, type = "application/json"): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": type } });
}

/** A fake server: records every request it sees and answers from a script. */
function server(...answers: (Response | Error)[]) {
  const seen: { method: string; url: string; key: string | null; auth: string | null; body: string }[] = [];
  const fetch = vi.fn(async (request: Request) => {
    seen.push({
      method: request.method,
      url: request.url,
      key: request.headers.get(IDEMPOTENCY_HEADER),
      auth: request.headers.get("Authorization"),
      body: await request.text(),
    });
    const next = answers.shift() ?? json(200, {});
    if (next instanceof Error) throw next;
    return next;
  });
  return { fetch, seen };
}

const noWait = { attempts: 3, baseDelayMs: 1, sleep: async () => undefined };

describe("idempotency middleware", () => {
  it("reuses the same key when a mutation is retried after a network failure", async () => {
    const s = server(new TypeError("connection reset"), json(200, { id: "a1", status: "resolved" }));
    const api = createApi({ baseUrl: "http://spectra.test", getToken: () => "tok", fetch: s.fetch, retry: noWait });

    const data = await unwrap(api.POST("/api/anomalies/{anomaly_id}/resolve", { params: { path: { anomaly_id: "a1" } }, body: { note: "fixed" } }));

    expect(data).toEqual({ id: "a1", status: "resolved" });
    expect(s.seen).toHaveLength(2);
    expect(s.seen[0]!.key).toMatch(UUID);
    expect(s.seen[1]!.key).toBe(s.seen[0]!.key);
    expect(s.seen[1]!.body).toBe(s.seen[0]!.body); // same body, so the server may replay its answer
    expect(s.seen[1]!.body).toContain("fixed");
  });

  it("retries a 503 with the same key and gives up after the configured attempts", async () => {
    const s = server(json(503, { code: "service_unavailable", detail: "db down" }, "application/problem+json"), json(503, {}), json(503, { detail: "still down", code: "service_unavailable" }));
    const api = createApi({ baseUrl: "http://spectra.test", getToken: () => "tok", fetch: s.fetch, retry: noWait });

    const failure = await unwrap(api.POST("/api/anomalies/{anomaly_id}/dismiss", { params: { path: { anomaly_id: "x" } }, body: { reason: "noise" } })).catch((e: unknown) => e);

    expect(failure).toBeInstanceOf(ApiError);
    expect((failure as ApiError).status).toBe(503);
    expect((failure as ApiError).detail).toBe("still down");
    expect(new Set(s.seen.map((r) => r.key)).size).toBe(1);
    expect(s.seen).toHaveLength(3);
  });

  it("gives each mutation call its own key and leaves reads without one", async () => {
    const s = server(json(200, {}), json(200, {}), json(200, { role: "admin", client_id: null, name: "admin" }));
    const api = createApi({ baseUrl: "http://spectra.test", getToken: () => "tok", fetch: s.fetch, retry: noWait });

    await unwrap(api.POST("/api/anomalies/{anomaly_id}/resolve", { params: { path: { anomaly_id: "1" } }, body: {} }));
    await unwrap(api.POST("/api/anomalies/{anomaly_id}/resolve", { params: { path: { anomaly_id: "1" } }, body: {} }));
    await unwrap(api.GET("/api/whoami"));

    expect(s.seen[0]!.key).toMatch(UUID);
    expect(s.seen[1]!.key).toMatch(UUID);
    expect(s.seen[0]!.key).not.toBe(s.seen[1]!.key);
    expect(s.seen[2]!.key).toBeNull();
    expect(s.seen.every((r) => r.auth === "Bearer tok")).toBe(true);
  });

  it("keeps a key the caller chose for a logical action", async () => {
    const s = server(json(200, {}));
    const api = createApi({ baseUrl: "http://spectra.test", getToken: () => "tok", fetch: s.fetch, retry: noWait });
    await unwrap(
      api.POST("/api/anomalies/{anomaly_id}/resolve", {
        params: { path: { anomaly_id: "1" } },
        body: {},
        headers: { [IDEMPOTENCY_HEADER]: "11111111-1111-4111-8111-111111111111" },
      }),
    );
    expect(s.seen[0]!.key).toBe("11111111-1111-4111-8111-111111111111");
  });

  it("does not retry a definite answer such as 409 or 422", async () => {
    const s = server(json(409, { code: "stale_version", detail: "changed", current_version: 4 }, "application/problem+json"));
    const api = createApi({ baseUrl: "http://spectra.test", getToken: () => "tok", fetch: s.fetch, retry: noWait });
    const failure = (await unwrap(api.PATCH("/api/teams/{team_id}", { params: { path: { team_id: "t" } }, body: { version: 1 } as never })).catch((e: unknown) => e)) as ApiError;
    expect(s.seen).toHaveLength(1);
    expect(failure.code).toBe("stale_version");
    expect(failure.currentVersion).toBe(4);
  });
});

describe("auth middleware", () => {
  it("reports a 401 on the stored token but not on an explicit sign-in check", async () => {
    const onUnauthorized = vi.fn();
    const s = server(json(401, { code: "unauthorized", detail: "bad token" }), json(401, { code: "unauthorized", detail: "bad token" }));
    const api = createApi({ baseUrl: "http://spectra.test", getToken: () => "old", fetch: s.fetch, retry: noWait, onUnauthorized });

    await unwrap(api.GET("/api/whoami", { headers: { Authorization: "Bearer typed" } })).catch(() => undefined);
    expect(onUnauthorized).not.toHaveBeenCalled();
    expect(s.seen[0]!.auth).toBe("Bearer typed");

    await unwrap(api.GET("/api/whoami")).catch(() => undefined);
    expect(onUnauthorized).toHaveBeenCalledTimes(1);
  });
});

describe("retryingFetch", () => {
  it("never retries a mutation that has no idempotency key", async () => {
    const base = vi.fn(async () => {
      throw new TypeError("offline");
    });
    const fetch = retryingFetch(base, noWait);
    await expect(fetch(new Request("http://x/api/a", { method: "POST", body: "{}" }))).rejects.toThrow("offline");
    expect(base).toHaveBeenCalledTimes(1);
  });

  it("waits with growing, capped back-off between attempts", async () => {
    const waits: number[] = [];
    const base = vi.fn(async () => new Response("", { status: 502 }));
    const random = vi.spyOn(Math, "random").mockReturnValue(1);
    const fetch = retryingFetch(base, { attempts: 4, baseDelayMs: 100, sleep: async (ms) => void waits.push(ms) });
    const response = await fetch(new Request("http://x/api/a"));
    random.mockRestore();
    expect(response.status).toBe(502);
    expect(base).toHaveBeenCalledTimes(4);
    expect(waits).toEqual([100, 200, 400]);
  });
});
