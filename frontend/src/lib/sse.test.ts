// @vitest-environment node
import { describe, expect, it } from "vitest";
import { openEventStream, SseParser, toStreamEvent, type StreamEvent } from "./sse";

describe("SseParser", () => {
  it("assembles events split across chunks, skips heartbeats, keeps ids and retry", () => {
    const parser = new SseParser();
    expect(parser.feed("retry: 2000\n: connected as admin\n\n")).toEqual([]);
    expect(parser.retryMs).toBe(2000);
    expect(parser.feed('id: 7\nevent: spot.switch.completed\ndata: {"topic":"spot.sw')).toEqual([]);
    const events = parser.feed('itch.completed","id":7}\n\n: heartbeat\n\n');
    expect(events).toEqual([{ id: "7", event: "spot.switch.completed", data: '{"topic":"spot.switch.completed","id":7}' }]);
  });

  it("joins multi-line data and accepts CRLF line ends", () => {
    const parser = new SseParser();
    expect(parser.feed("data: a\r\ndata: b\r\n\r\n")).toEqual([{ id: null, event: "message", data: "a\nb" }]);
  });
});

describe("toStreamEvent", () => {
  it("reads Spectra's event JSON and falls back to the SSE event name", () => {
    const event = toStreamEvent({ id: "3", event: "carbon.anomaly.detected", data: '{"id":3,"at":"2026-01-01T00:00:00+00:00","payload":{"anomaly_id":"a"}}' });
    expect(event).toEqual({ id: 3, topic: "carbon.anomaly.detected", at: "2026-01-01T00:00:00+00:00", clientId: null, payload: { anomaly_id: "a" } });
    expect(toStreamEvent({ id: null, event: "x", data: "not json" })).toBeNull();
  });
});

describe("openEventStream", () => {
  it("sends the token as a header and resumes after the last event id", async () => {
    const calls: Record<string, string>[] = [];
    const bodies = [
      'id: 41\nevent: a.b\ndata: {"id":41,"topic":"a.b","payload":{}}\n\n',
      'id: 42\nevent: a.c\ndata: {"id":42,"topic":"a.c","payload":{}}\n\n',
    ];
    const seen: StreamEvent[] = [];
    let close: () => void = () => undefined;
    const done = new Promise<void>((resolve) => {
      const fetchImpl = (async (_url: string, init: RequestInit) => {
        calls.push(init.headers as Record<string, string>);
        const body = bodies.shift();
        if (body === undefined) {
          resolve();
          return new Promise<Response>(() => undefined);
        }
        return new Response(body, { status: 200, headers: { "Content-Type": "text/event-stream" } });
      }) as typeof fetch;
      close = openEventStream({ url: "http://x/api/events/stream", token: "tok", onEvent: (e) => seen.push(e), fetchImpl, minRetryMs: 1 });
    });
    await done;
    close();
    expect(seen.map((e) => e.topic)).toEqual(["a.b", "a.c"]);
    expect(calls[0]).toMatchObject({ Authorization: "Bearer tok" });
    expect(calls[0]!["Last-Event-ID"]).toBeUndefined();
    expect(calls[1]!["Last-Event-ID"]).toBe("41");
    expect(calls[2]!["Last-Event-ID"]).toBe("42");
  });
});
