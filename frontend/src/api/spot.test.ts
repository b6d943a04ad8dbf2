import { describe, expect, it } from "vitest";
import { reportTouchesPools } from "./spot";

describe("reportTouchesPools", () => {
  const shown = new Set(["pool-a", "pool-b"]);

  it("is true when the report lists a pool on the page", () => {
    expect(reportTouchesPools({ pools: 2, pool_ids: ["pool-x", "pool-b"] }, shown)).toBe(true);
    expect(reportTouchesPools({ pools: 1, pool_ids: ["pool-x"] }, shown)).toBe(false);
  });

  it("assumes any pool when the list was capped or is missing", () => {
    expect(reportTouchesPools({ pools: 60, pool_ids: ["pool-x"] }, shown)).toBe(true);
    expect(reportTouchesPools({}, shown)).toBe(true);
  });

  it("is false while the page shows no pool yet", () => {
    expect(reportTouchesPools({ pools: 1, pool_ids: ["pool-a"] }, new Set())).toBe(false);
  });
});
