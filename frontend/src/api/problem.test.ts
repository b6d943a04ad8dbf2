import { describe, expect, it } from "vitest";
import { ApiError, parseProblem } from "./problem";

describe("parseProblem", () => {
  it("reads Spectra's problem+json: code, detail, request id and the rows it names", () => {
    const error = parseProblem(422, {
      type: "https://spectra.dev/problems/validation_error",
      title: "Invalid input",
      status: 422,
      detail: "2 rows are invalid",
      code: "validation_error",
      request_id: "req-42",
      errors: [
        { row: 3, msg: "zone is unknown" },
        { field: "budget_kg", msg: "must be > 0" },
      ],
    });
    expect(error).toBeInstanceOf(ApiError);
    expect(error.code).toBe("validation_error");
    expect(error.detail).toBe("2 rows are invalid");
    expect(error.requestId).toBe("req-42");
    expect(error.errors.map((e) => `${ApiError.where(e)}: ${e.msg}`)).toEqual(["row 3: zone is unknown", "field budget_kg: must be > 0"]);
  });

  it("folds FastAPI's {detail: [{loc, msg}]} into fields", () => {
    const error = parseProblem(422, { detail: [{ loc: ["body", "window", "hours"], msg: "Input should be greater than 0", type: "x" }] });
    expect(error.code).toBe("validation_error");
    expect(error.detail).toBe("Invalid input");
    expect(error.errors).toEqual([{ field: "window.hours", msg: "Input should be greater than 0" }]);
  });

  it("keeps the stale version a 409 reports", () => {
    const error = parseProblem(409, { code: "stale_version", detail: "team was changed by someone else", current_version: 7 });
    expect(error.currentVersion).toBe(7);
    expect(error.status).toBe(409);
  });

  it("falls back to the status for text or empty bodies, with the request id header", () => {
    const text = parseProblem(502, "<html>Bad Gateway</html>", "req-9");
    expect(text.code).toBe("bad_gateway");
    expect(text.detail).toBe("<html>Bad Gateway</html>");
    expect(text.requestId).toBe("req-9");
    const empty = parseProblem(500, undefined);
    expect(empty.code).toBe("internal_error");
    expect(empty.detail).toBe("HTTP 500");
  });
});
