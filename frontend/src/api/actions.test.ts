import { describe, expect, it } from "vitest";
import { ActionKeys, outcomeUnknown, stableStringify } from "./actions";
import { ApiError } from "./problem";

function counter() {
  let n = 0;
  return () => `key-${++n}`;
}

describe("ActionKeys", () => {
  it("re-sends the same key for the same inputs while the outcome is unknown", () => {
    const keys = new ActionKeys(counter());
    expect(keys.keyFor({ id: "a", note: "x" })).toBe("key-1");
    keys.settle(new ApiError({ status: 0, code: "network_error", detail: "offline" }));
    expect(keys.keyFor({ note: "x", id: "a" })).toBe("key-1"); // same inputs, key order irrelevant
    keys.settle(new ApiError({ status: 504, code: "gateway_timeout", detail: "timeout" }));
    expect(keys.keyFor({ id: "a", note: "x" })).toBe("key-1");
  });

  it("starts a new action once the server answered, or when the inputs change", () => {
    const keys = new ActionKeys(counter());
    expect(keys.keyFor({ id: "a" })).toBe("key-1");
    keys.settle(); // success
    expect(keys.keyFor({ id: "a" })).toBe("key-2");
    keys.settle(new ApiError({ status: 422, code: "validation_error", detail: "bad" }));
    expect(keys.keyFor({ id: "a" })).toBe("key-3");
    keys.settle(new TypeError("offline"));
    expect(keys.keyFor({ id: "b" })).toBe("key-4");
  });
});

describe("outcomeUnknown", () => {
  it("is true only when nothing or a gateway answered", () => {
    expect(outcomeUnknown(new TypeError("x"))).toBe(true);
    expect(outcomeUnknown(new ApiError({ status: 502, code: "bad_gateway", detail: "" }))).toBe(true);
    expect(outcomeUnknown(new ApiError({ status: 409, code: "conflict", detail: "" }))).toBe(false);
    expect(outcomeUnknown(new ApiError({ status: 500, code: "internal_error", detail: "" }))).toBe(false);
  });
});

describe("stableStringify", () => {
  it("sorts keys at every depth and drops undefined", () => {
    expect(stableStringify({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: undefined } })).toBe('{"a":{"d":[1,{"y":2,"z":1}]},"b":1}');
  });
});
