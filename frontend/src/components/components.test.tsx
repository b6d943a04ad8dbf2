import { act, render, screen } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "../api/problem";
import { NAV_GROUPS, visibleGroups } from "../routes";
import { Countdown } from "./Countdown";
import { DowntimeCard, downtimeTrend, type DowntimeStats } from "./DowntimeCard";
import { EmergencyEventAlert, showsCountdown, stepDetails, type EmergencyEvent } from "./EmergencyEventAlert";
import { ErrorState } from "./states";

describe("Countdown", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date("2026-03-01T12:00:00Z"));
  });
  afterEach(() => vi.useRealTimers());

  it("ticks down every second and flags a passed deadline", () => {
    render(<Countdown deadline="2026-03-01T12:00:03Z" />);
    expect(screen.getByRole("timer")).toHaveTextContent("0:03");
    act(() => vi.advanceTimersByTime(1000));
    expect(screen.getByRole("timer")).toHaveTextContent("0:02");
    act(() => vi.advanceTimersByTime(3000));
    expect(screen.getByRole("timer")).toHaveTextContent("0:00");
    expect(screen.getByRole("timer")).toHaveTextContent("deadline passed");
  });

  it("follows the server clock through an offset", () => {
    render(<Countdown deadline="2026-03-01T12:02:00Z" offsetMs={60_000} />);
    expect(screen.getByRole("timer")).toHaveTextContent("1:00");
  });
});

const EVENT: EmergencyEvent = {
  id: "e1",
  agent_id: "agent-7",
  instance_id: "i-0abc",
  kind: "termination",
  status: "replica_queued",
  notice_time: "2026-03-01T11:59:00Z",
  notice_deadline: "2026-03-01T12:01:00Z",
  received_at: "2026-03-01T11:59:01Z",
  replica_id: "r1",
  pool_id: "p1",
  promoted_at: null,
  promotion_seconds: null,
  steps: [
    { at: "2026-03-01T11:59:01Z", step: "notice_received" },
    { at: "2026-03-01T11:59:02Z", step: "replica_queued", pool_id: "us-east-1a/m5.large", command_id: null },
  ],
};

describe("EmergencyEventAlert", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date("2026-03-01T12:00:00Z"));
  });
  afterEach(() => vi.useRealTimers());

  it("alerts with a live countdown and the action timeline while active", () => {
    render(<EmergencyEventAlert event={EVENT} agentName="web-1" />);
    expect(screen.getByRole("alert")).toHaveAccessibleName("Termination notice for web-1");
    expect(screen.getByTestId("emergency-countdown")).toHaveTextContent("1:00");
    act(() => vi.advanceTimersByTime(30_000));
    expect(screen.getByTestId("emergency-countdown")).toHaveTextContent("0:30");
    const timeline = screen.getByTestId("emergency-timeline");
    expect(timeline.querySelectorAll("li")).toHaveLength(2);
    expect(timeline).toHaveTextContent("replica queued — pool id: us-east-1a/m5.large");
  });

  it("drops the countdown once the replica was promoted", () => {
    render(<EmergencyEventAlert event={{ ...EVENT, status: "promoted", promotion_seconds: 48.2 }} />);
    expect(screen.queryByRole("alert")).toBeNull();
    expect(screen.queryByTestId("emergency-countdown")).toBeNull();
    expect(screen.getByText(/48.2/)).toBeInTheDocument();
  });

  it("keeps counting down after an on-demand fail-over, until the deadline", () => {
    render(<EmergencyEventAlert event={{ ...EVENT, status: "failed_over" }} />);
    expect(screen.getByRole("alert")).toBeInTheDocument();
    expect(screen.getByTestId("emergency-countdown")).toHaveTextContent("1:00");
    expect(showsCountdown({ status: "failed_over", notice_deadline: "2026-03-01T11:00:00Z" }, Date.parse("2026-03-01T12:00:00Z"))).toBe(true);
    expect(showsCountdown({ status: "closed", notice_deadline: "2026-03-01T11:00:00Z" }, Date.parse("2026-03-01T12:00:00Z"))).toBe(false);
    expect(showsCountdown({ status: "closed", notice_deadline: "2026-03-01T13:00:00Z" }, Date.parse("2026-03-01T12:00:00Z"))).toBe(true);
  });

  it("lists step details without the time and name", () => {
    expect(stepDetails({ at: "x", step: "y", reason: "capacity", n: 2, none: null })).toBe("reason: capacity · n: 2");
    expect(stepDetails({ at: "x", step: "y", deadline: "2026-03-01T12:01:00+00:00" })).toMatch(/^deadline: \d{2}:\d{2}$/);
  });
});

const STATS: DowntimeStats = {
  window_hours: 24,
  switches: 4,
  successful: 3,
  success_rate: 0.75,
  measured: 3,
  p95_seconds: 12.4,
  avg_seconds: 6.2,
  min_seconds: 0.8,
  max_seconds: 12.9,
  target_p95_seconds: 10,
  meets_target: false,
};

describe("DowntimeCard", () => {
  it("shows p95, avg, min, max and success rate with units, judged against the target", () => {
    render(<DowntimeCard stats={STATS} previousP95={9} />);
    expect(screen.getByTestId("downtime-p95")).toHaveTextContent("12.4 s");
    expect(screen.getByTestId("downtime-avg")).toHaveTextContent("6.2 s");
    expect(screen.getByTestId("downtime-min")).toHaveTextContent("800 ms");
    expect(screen.getByTestId("downtime-success-rate")).toHaveTextContent("75 %");
    expect(screen.getByText(/misses p95 target/)).toBeInTheDocument();
    expect(screen.getByTestId("downtime-trend")).toHaveTextContent("worse");
  });

  it("rates the trend with a dead band", () => {
    expect(downtimeTrend(10, 10.3)).toBe("same");
    expect(downtimeTrend(8, 10)).toBe("better");
    expect(downtimeTrend(null, 10)).toBeNull();
  });
});

describe("ErrorState", () => {
  it("shows the problem's detail, code, request id and named fields", () => {
    const error = new ApiError({ status: 422, code: "validation_error", detail: "1 row is invalid", requestId: "req-1", errors: [{ row: 4, msg: "bad zone" }] });
    render(<ErrorState error={error} />);
    expect(screen.getByTestId("error-detail")).toHaveTextContent("1 row is invalid");
    expect(screen.getByTestId("error-code")).toHaveTextContent("validation_error");
    expect(screen.getByRole("alert")).toHaveTextContent("row 4: bad zone");
    expect(screen.getByRole("alert")).toHaveTextContent("request req-1");
  });
});

describe("navigation", () => {
  it("shows the Admin page to the admin token only", () => {
    const labels = (role: "admin" | "client") => visibleGroups(NAV_GROUPS, role).flatMap((g) => g.items.map((i) => i.label));
    expect(labels("admin")).toContain("Admin");
    expect(labels("client")).not.toContain("Admin");
    expect(labels("client")).toContain("Fleet");
    expect(visibleGroups(NAV_GROUPS, null)).toEqual([]);
  });
});
