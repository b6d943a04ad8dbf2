import { describe, expect, it } from "vitest";
import { formatCo2e, formatCountdown, formatDuration, formatRelative, formatUsd, formatUsdPerHour, withUnit } from "./format";

const NNBSP = "\u202f";

describe("formatCountdown", () => {
  it("shows minutes and seconds under an hour, rounding up to the whole second", () => {
    expect(formatCountdown(120_000)).toBe("2:00");
    expect(formatCountdown(119_001)).toBe("2:00");
    expect(formatCountdown(119_000)).toBe("1:59");
    expect(formatCountdown(5_000)).toBe("0:05");
    expect(formatCountdown(1)).toBe("0:01");
  });

  it("shows hours when needed and 0:00 once the deadline passed", () => {
    expect(formatCountdown(3_600_000)).toBe("1:00:00");
    expect(formatCountdown(3_725_000)).toBe("1:02:05");
    expect(formatCountdown(0)).toBe("0:00");
    expect(formatCountdown(-30_000)).toBe("0:00");
  });
});

describe("units", () => {
  it("attaches units and scales CO2e", () => {
    expect(withUnit(1234.56, "kWh")).toBe(`1,234.6${NNBSP}kWh`);
    expect(withUnit(null, "kWh")).toBe("—");
    expect(formatCo2e(0.25)).toBe(`250${NNBSP}g CO2e`);
    expect(formatCo2e(12.345)).toBe(`12.35${NNBSP}kg CO2e`);
    expect(formatCo2e(2500)).toBe(`2.5${NNBSP}t CO2e`);
    expect(formatCo2e("0")).toBe(`0${NNBSP}kg CO2e`);
  });

  it("formats decimal USD strings and negative amounts", () => {
    expect(formatUsd("1234.5")).toBe("$1,234.50");
    expect(formatUsd(-3.456)).toBe("-$3.46");
    expect(formatUsd("n/a")).toBe("—");
  });

  it("formats hourly prices, and a missing one as a bare dash", () => {
    expect(formatUsdPerHour(0.04123)).toBe("$0.0412/h");
    expect(formatUsdPerHour(0.5, 2)).toBe("$0.50/h");
    expect(formatUsdPerHour(null)).toBe("—");
  });

  it("formats durations from milliseconds to hours", () => {
    expect(formatDuration(0.25)).toBe(`250${NNBSP}ms`);
    expect(formatDuration(8.42)).toBe(`8.4${NNBSP}s`);
    expect(formatDuration(245)).toBe(`4${NNBSP}min 05${NNBSP}s`);
    expect(formatDuration(7380)).toBe(`2${NNBSP}h 03${NNBSP}min`);
  });

  it("formats relative times against an injected now", () => {
    const now = Date.parse("2026-01-01T12:00:00Z");
    expect(formatRelative("2026-01-01T11:57:00Z", now)).toBe(`3${NNBSP}min ago`);
    expect(formatRelative("2026-01-01T14:00:00Z", now)).toBe(`in 2${NNBSP}h`);
    expect(formatRelative("2026-01-01T12:00:02Z", now)).toBe("just now");
  });
});
