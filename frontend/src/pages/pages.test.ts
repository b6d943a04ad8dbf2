import { describe, expect, it } from "vitest";
import { mergeSeries, niceCeiling } from "../components/MetricChart";
import { filenameFrom } from "../lib/download";
import { describeSilence } from "./Alerts";
import { currentQuarter } from "./Budgets";
import { breachText, metricUnit } from "./Metrics";
import { defaultPeriod } from "./Reports";
import { plannedWindow } from "./SchedulerJobs";
import type { ResponseOf } from "../api/client";

describe("metric chart data", () => {
  it("joins the forecast to the last observation and drops forecast points inside the history", () => {
    const rows = mergeSeries(
      [
        { ts: "2026-01-01T00:00:00Z", value: 10 },
        { ts: "2026-01-01T00:01:00Z", value: 12 },
      ],
      [
        { ts: "2026-01-01T00:01:00Z", value: 99, lower: 0, upper: 0 },
        { ts: "2026-01-01T00:02:00Z", value: 14, lower: 13, upper: 15 },
      ],
    );
    expect(rows).toEqual([
      { t: Date.parse("2026-01-01T00:00:00Z"), value: 10 },
      { t: Date.parse("2026-01-01T00:01:00Z"), value: 12, forecast: 12, band: [12, 12] },
      { t: Date.parse("2026-01-01T00:02:00Z"), forecast: 14, band: [13, 15] },
    ]);
  });

  it("rounds axis maxima to 1-2-5 steps", () => {
    expect(niceCeiling(115.7)).toBe(200);
    expect(niceCeiling(94.5)).toBe(100);
    expect(niceCeiling(0.031)).toBe(0.05);
    expect(niceCeiling(0)).toBe(1);
  });
});

const FORECAST: ResponseOf<"/api/forecast", "get">["forecasts"][number] = {
  already_breached: false,
  breach_at: null,
  confidence: 0.8,
  current: 71.7,
  data_until: "2026-01-01T00:00:00Z",
  generated_at: "2026-01-01T00:00:00Z",
  method: "linear",
  metric: "cpu",
  minutes_to_breach: null,
  path: [],
  points_used: 60,
  threshold: 90,
};

describe("breach text", () => {
  it("says whether, when and how soon the threshold is crossed", () => {
    expect(breachText(undefined)).toBe("no forecast yet");
    expect(breachText(FORECAST)).toBe("no breach predicted within the look-ahead");
    expect(breachText({ ...FORECAST, already_breached: true, current: 93.2 })).toBe("over the threshold now (93.2\u202f%)");
    expect(breachText({ ...FORECAST, breach_at: "2026-01-01T03:39:00Z", minutes_to_breach: 219 })).toMatch(/in 3\u202fh 39\u202fmin\)$/);
  });

  it("knows which metrics are percentages", () => {
    expect(metricUnit("cpu")).toBe("%");
    expect(metricUnit("memory")).toBe("%");
    expect(metricUnit("network_in")).toBe("");
  });
});

describe("silences", () => {
  it("describes recurring weekly windows in UTC", () => {
    expect(describeSilence({ recurring: { days: [0, 4], start: "22:00", end: "06:00" }, starts_at: "2026-01-01T00:00:00Z", ends_at: null })).toBe("every Mon, Fri 22:00–06:00 UTC");
    expect(describeSilence({ recurring: null, starts_at: "2026-01-01T00:00:00Z", ends_at: null })).toMatch(/until removed$/);
  });
});

describe("periods", () => {
  it("finds the quarter and the month-to-date period in UTC", () => {
    expect(currentQuarter(new Date("2026-11-22T08:00:00Z"))).toEqual({ year: 2026, quarter: 4 });
    expect(currentQuarter(new Date("2026-03-31T23:59:00Z"))).toEqual({ year: 2026, quarter: 1 });
    expect(defaultPeriod(new Date("2026-11-22T08:00:00Z"))).toEqual({ start: "2026-11-01", end: "2026-11-22" });
  });
});

describe("downloads", () => {
  it("takes the file name from Content-Disposition, else the fallback", () => {
    const named = new Response("", { headers: { "Content-Disposition": 'attachment; filename="chargeback-2026-Q4.csv"' } });
    expect(filenameFrom(named, "x.csv")).toBe("chargeback-2026-Q4.csv");
    expect(filenameFrom(new Response(""), "x.csv")).toBe("x.csv");
  });
});

describe("scheduled job window", () => {
  it("names the window and region, the pieces of an interruptible job, or why there is none", () => {
    const planned = plannedWindow({ recommendation: { status: "planned", start: "2026-01-01T02:00:00Z", end: "2026-01-01T04:00:00Z", region: "eu-north-1", pieces: [] } });
    expect(planned).toMatch(/→ .* in eu-north-1$/);
    const split = plannedWindow({
      recommendation: { status: "planned", start: "2026-01-01T02:00:00Z", end: "2026-01-01T06:00:00Z", region: null, pieces: [{ start: "a", end: "b" }, { start: "c", end: "d" }] },
    });
    expect(split).toMatch(/in 2 pieces$/);
    expect(plannedWindow({ recommendation: { status: "no_data", reason: "deadline_unreachable" } })).toBe("Deadline unreachable");
  });
});
