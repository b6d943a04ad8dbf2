import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { api, unwrap } from ".";
import { idempotencyHeaders, useAction } from "./actions";

function ResolveButton() {
  const resolve = useAction((id: string, key: string) =>
    unwrap(api.POST("/api/anomalies/{anomaly_id}/resolve", { params: { path: { anomaly_id: id } }, body: {}, headers: idempotencyHeaders(key) })),
  );
  return (
    <>
      <button onClick={() => resolve.mutate("a1")}>Resolve</button>
      <button onClick={() => resolve.mutate("a2")}>Resolve other</button>
      <p data-testid="state">{resolve.isError ? resolve.error.code : resolve.isSuccess ? "done" : resolve.isPending ? "busy" : "idle"}</p>
    </>
  );
}

describe("useAction in a page", () => {
  const keys: (string | null)[] = [];
  let failuresLeft = 0;

  beforeEach(() => {
    keys.length = 0;
    vi.spyOn(Math, "random").mockReturnValue(0); // no back-off wait between automatic retries
    vi.stubGlobal(
      "fetch",
      vi.fn(async (request: Request) => {
        keys.push(request.headers.get("Idempotency-Key"));
        if (failuresLeft > 0) {
          failuresLeft -= 1;
          throw new TypeError("network down");
        }
        return new Response(JSON.stringify({ id: "a1", status: "resolved" }), { status: 200, headers: { "Content-Type": "application/json" } });
      }),
    );
  });
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.restoreAllMocks();
  });

  it("sends the same key when the user clicks again after the outcome stayed unknown", async () => {
    const user = userEvent.setup();
    render(
      <QueryClientProvider client={new QueryClient()}>
        <ResolveButton />
      </QueryClientProvider>,
    );
    failuresLeft = 3; // the first click's three automatic tries all fail
    await user.click(screen.getByRole("button", { name: "Resolve" }));
    await waitFor(() => expect(screen.getByTestId("state")).toHaveTextContent("network_error"));
    expect(keys).toHaveLength(3);

    await user.click(screen.getByRole("button", { name: "Resolve" })); // the user retries
    await waitFor(() => expect(screen.getByTestId("state")).toHaveTextContent("done"));
    expect(keys).toHaveLength(4);
    expect(new Set(keys).size).toBe(1); // one logical action, one key: the server acts at most once

    await user.click(screen.getByRole("button", { name: "Resolve other" })); // a different action
    await waitFor(() => expect(keys).toHaveLength(5));
    expect(keys[4]).not.toBe(keys[0]);
  });
});
