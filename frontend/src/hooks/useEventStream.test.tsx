import { QueryClient, QueryClientProvider, useQuery } from "@tanstack/react-query";
import { act, render, screen, waitFor } from "@testing-library/react";
import type { ReactNode } from "react";
import { describe, expect, it } from "vitest";
import type { StreamEvent } from "../lib/sse";
import { EventBusProvider, queryDependsOn, topicMatches, useEventStream, type EventBus } from "./useEventStream";

function fakeBus() {
  const listeners = new Set<(e: StreamEvent) => void>();
  const bus: EventBus = {
    status: "open",
    subscribe: (l) => {
      listeners.add(l);
      return () => void listeners.delete(l);
    },
  };
  const emit = (topic: string, payload: Record<string, unknown> = {}) => {
    for (const l of listeners) l({ id: 1, topic, at: null, clientId: null, payload });
  };
  return { bus, emit, listeners };
}

// How many times each query has fetched; reset per test by using fresh labels' keys.
const fetches = new Map<string, number>();

function Counter({ queryKey, label }: { queryKey: string[]; label: string }) {
  const calls = useQuery({
    queryKey,
    queryFn: async () => {
      const n = (fetches.get(label) ?? 0) + 1;
      fetches.set(label, n);
      return n;
    },
    staleTime: Infinity,
  });
  return <p data-testid={label}>{calls.data ?? 0}</p>;
}

function Page({ topics }: { topics: string[] }) {
  const { lastEvent } = useEventStream(topics, { batchMs: 0 });
  return (
    <>
      <Counter queryKey={["carbon.anomaly", "list"]} label="anomalies" />
      <Counter queryKey={["spot", "fleet"]} label="fleet" />
      <p data-testid="last">{lastEvent?.topic ?? ""}</p>
    </>
  );
}

function wrap(bus: EventBus, children: ReactNode) {
  fetches.clear();
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return (
    <QueryClientProvider client={client}>
      <EventBusProvider value={bus}>{children}</EventBusProvider>
    </QueryClientProvider>
  );
}

describe("useEventStream", () => {
  it("refetches only the queries whose topic the event matches", async () => {
    const { bus, emit } = fakeBus();
    render(wrap(bus, <Page topics={["carbon.", "spot."]} />));
    await waitFor(() => expect(screen.getByTestId("anomalies")).toHaveTextContent("1"));
    expect(screen.getByTestId("fleet")).toHaveTextContent("1");

    act(() => emit("carbon.anomaly.detected"));
    await waitFor(() => expect(screen.getByTestId("anomalies")).toHaveTextContent("2"));
    expect(screen.getByTestId("fleet")).toHaveTextContent("1");
    expect(screen.getByTestId("last")).toHaveTextContent("carbon.anomaly.detected");

    act(() => emit("spot.switch.completed"));
    await waitFor(() => expect(screen.getByTestId("fleet")).toHaveTextContent("2"));
    expect(screen.getByTestId("anomalies")).toHaveTextContent("2");
  });

  it("ignores topics it did not subscribe to and unsubscribes on unmount", async () => {
    const { bus, emit, listeners } = fakeBus();
    const view = render(wrap(bus, <Page topics={["spot."]} />));
    await waitFor(() => expect(screen.getByTestId("anomalies")).toHaveTextContent("1"));
    act(() => emit("carbon.anomaly.detected"));
    await new Promise((r) => setTimeout(r, 20));
    expect(screen.getByTestId("anomalies")).toHaveTextContent("1");
    expect(screen.getByTestId("last")).toHaveTextContent("");
    view.unmount();
    expect(listeners.size).toBe(0);
  });

  it("batches a burst into one refetch per query", async () => {
    const { bus, emit } = fakeBus();
    function Batched() {
      useEventStream(["spot."], { batchMs: 30 });
      return <Counter queryKey={["spot", "fleet"]} label="fleet" />;
    }
    render(wrap(bus, <Batched />));
    await waitFor(() => expect(screen.getByTestId("fleet")).toHaveTextContent("1"));
    act(() => {
      for (let i = 0; i < 10; i++) emit("spot.price.updated");
    });
    await waitFor(() => expect(screen.getByTestId("fleet")).toHaveTextContent("2"));
    await new Promise((r) => setTimeout(r, 60));
    expect(screen.getByTestId("fleet")).toHaveTextContent("2");
  });
});

describe("useEventStream options for a frequent topic", () => {
  function Prices({ shown }: { shown: string }) {
    // The page's general subscription skips price reports; a second one refreshes only the price query.
    useEventStream(["spot."], { batchMs: 0, ignore: ["spot.pricing.reported"] });
    useEventStream(["spot.pricing.reported"], {
      batchMs: 0,
      accept: (event) => (event.payload.pool_ids as string[]).includes(shown),
      refresh: [["spot", "price-history"]],
    });
    return (
      <>
        <Counter queryKey={["spot", "agents"]} label="agents" />
        <Counter queryKey={["spot", "price-history", "i-1"]} label="prices" />
      </>
    );
  }

  it("refreshes only the named queries, only for accepted events, and the rest ignore the topic", async () => {
    const { bus, emit } = fakeBus();
    render(wrap(bus, <Prices shown="pool-a" />));
    await waitFor(() => expect(screen.getByTestId("prices")).toHaveTextContent("1"));
    expect(screen.getByTestId("agents")).toHaveTextContent("1");

    act(() => emit("spot.pricing.reported", { pool_ids: ["pool-b"] })); // a pool the page does not show
    await new Promise((r) => setTimeout(r, 20));
    expect(screen.getByTestId("prices")).toHaveTextContent("1");

    act(() => emit("spot.pricing.reported", { pool_ids: ["pool-a", "pool-b"] }));
    await waitFor(() => expect(screen.getByTestId("prices")).toHaveTextContent("2"));
    expect(screen.getByTestId("agents")).toHaveTextContent("1"); // the agents list does not depend on prices

    act(() => emit("spot.agent.online")); // other spot topics still refresh every "spot" query
    await waitFor(() => expect(screen.getByTestId("agents")).toHaveTextContent("2"));
    await waitFor(() => expect(screen.getByTestId("prices")).toHaveTextContent("3"));
  });
});

describe("topic matching", () => {
  it("matches whole dotted segments, or any continuation after a trailing dot", () => {
    expect(topicMatches("carbon.anomaly", "carbon.anomaly.detected")).toBe(true);
    expect(topicMatches("carbon.anomaly", "carbon.anomalyx")).toBe(false);
    expect(topicMatches("spot.", "spot.switch")).toBe(true);
    expect(topicMatches("", "anything")).toBe(true);
    expect(queryDependsOn({ queryKey: ["budgets"], meta: { topics: ["carbon.emissions"] } }, "carbon.emissions.updated")).toBe(true);
    expect(queryDependsOn({ queryKey: ["budgets"], meta: undefined }, "carbon.emissions.updated")).toBe(false);
  });
});
