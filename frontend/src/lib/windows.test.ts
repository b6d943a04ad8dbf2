import { describe, expect, it } from "vitest";
import { bestWindows, runNowMean } from "./windows";

const hours = (values: number[]) => values.map((mean, i) => ({ hour: new Date(Date.UTC(2026, 0, 1, i)).toISOString(), mean }));

describe("bestWindows", () => {
  it("finds the lowest-mean window and the next ones without overlap", () => {
    //            0    1    2    3   4   5    6    7
    const f = hours([300, 280, 120, 100, 90, 310, 200, 210]);
    const [best, second, third] = bestWindows(f, 2, 3);
    expect(best).toMatchObject({ startIndex: 3, meanGPerKwh: 95, start: "2026-01-01T03:00:00.000Z", end: "2026-01-01T05:00:00.000Z" });
    // Means by start: 0:290 1:200 2:110 3:95 4:200 5:255 6:205. 2 and 4 overlap the best window (3–4),
    // so the next are 1–2 (200) and 6–7 (205).
    expect(second).toMatchObject({ startIndex: 1, meanGPerKwh: 200 });
    expect(third).toMatchObject({ startIndex: 6, meanGPerKwh: 205 });
  });

  it("returns nothing for a job longer than the forecast and compares with running now", () => {
    expect(bestWindows(hours([1, 2]), 3)).toEqual([]);
    expect(runNowMean(hours([300, 100, 200]), 2)).toBe(200);
    expect(runNowMean(hours([300]), 2)).toBeNull();
  });
});
