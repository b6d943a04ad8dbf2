import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { App } from "./App";

const TOKENS: Record<string, { role: string; client_id: string | null; name: string }> = {
  "admin-token": { role: "admin", client_id: null, name: "admin" },
  "client-token": { role: "client", client_id: "c1", name: "Acme Retail" },
};

/** A fake server: whoami by token, 401 for anything unknown, empty answers elsewhere. */
function fakeFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  const request = input instanceof Request ? input : new Request(String(input), init);
  const url = new URL(request.url);
  const token = (request.headers.get("Authorization") ?? "").replace("Bearer ", "");
  if (url.pathname === "/api/events/stream") return new Promise(() => undefined); // stays open
  const who = TOKENS[token];
  if (!who) {
    return Promise.resolve(
      new Response(JSON.stringify({ status: 401, code: "unauthorized", detail: "invalid bearer token" }), {
        status: 401,
        headers: { "Content-Type": "application/problem+json" },
      }),
    );
  }
  const json = (body: unknown) => Promise.resolve(new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json" } }));
  if (url.pathname === "/api/whoami") return json(who);
  if (url.pathname === "/api/admin/clients") return json([]);
  if (url.pathname === "/api/anomalies/stats") return json({ by_kind: {}, by_severity: {}, dismissed: 0, open: 0, open_co2e_kg: 0, open_cost_usd: 0, resolved: 0, total: 0 });
  if (url.pathname === "/api/anomalies") return json({ items: [], limit: 25, offset: 0, total: 0 });
  return json({});
}

describe("App shell", () => {
  beforeEach(() => {
    vi.stubGlobal("fetch", vi.fn(fakeFetch));
    window.history.pushState({}, "", "/anomalies");
  });
  afterEach(() => vi.unstubAllGlobals());

  it("signs in with a client token, shows that role's navigation, and signs out", async () => {
    const user = userEvent.setup();
    render(<App />);
    await user.type(await screen.findByLabelText("Token"), "client-token");
    await user.click(screen.getByRole("button", { name: "Sign in" }));

    const nav = await screen.findByRole("navigation", { name: "Main" });
    expect(within(nav).getByRole("link", { name: "Fleet" })).toBeInTheDocument();
    expect(within(nav).queryByRole("link", { name: "Admin" })).toBeNull();
    expect(screen.getByTestId("whoami")).toHaveTextContent("Acme Retail (client)");
    // Back on the page asked for before signing in.
    expect(await screen.findByRole("heading", { name: "Anomalies", level: 1 })).toBeInTheDocument();
    expect(sessionStorage.getItem("spectra.token")).toBe("client-token");

    await user.click(screen.getByRole("button", { name: "Sign out" }));
    expect(await screen.findByLabelText("Token")).toBeInTheDocument();
    expect(sessionStorage.getItem("spectra.token")).toBeNull();
  });

  it("shows the Admin page to the admin token and rejects an unknown token", async () => {
    const user = userEvent.setup();
    render(<App />);
    await user.type(await screen.findByLabelText("Token"), "wrong");
    await user.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByTestId("sign-in-error")).toHaveTextContent("not valid");
    expect(sessionStorage.getItem("spectra.token")).toBeNull();

    await user.clear(screen.getByLabelText("Token"));
    await user.type(screen.getByLabelText("Token"), "admin-token");
    await user.click(screen.getByRole("button", { name: "Sign in" }));
    const nav = await screen.findByRole("navigation", { name: "Main" });
    await waitFor(() => expect(within(nav).getByRole("link", { name: "Admin" })).toBeInTheDocument());
  });

  it("signs out when the stored token is rejected later (revoked or rotated)", async () => {
    sessionStorage.setItem("spectra.token", "revoked-token");
    render(<App />);
    expect(await screen.findByText(/no longer valid/)).toBeInTheDocument();
    expect(sessionStorage.getItem("spectra.token")).toBeNull();
  });
});
