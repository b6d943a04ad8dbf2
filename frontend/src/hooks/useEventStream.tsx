// Live updates: one SSE connection per signed-in tab (EventStreamProvider) fans events out to the pages;
// `useEventStream(topics)` refreshes the TanStack queries those events make stale, without a reload.
//
// Convention: a query's key starts with the topic prefix its data depends on, e.g.
// ["carbon.anomaly", "list", filters] is refreshed by "carbon.anomaly.detected"; a query can name more
// prefixes in `meta.topics`.
import { useQueryClient, type Query, type QueryKey } from "@tanstack/react-query";
import { createContext, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import { openEventStream, type StreamEvent, type StreamStatus } from "../lib/sse";

type Listener = (event: StreamEvent) => void;

export interface EventBus {
  subscribe: (listener: Listener) => () => void;
  status: StreamStatus;
}

const EventBusContext = createContext<EventBus | null>(null);

export function topicMatches(prefix: string, topic: string): boolean {
  if (!prefix) return true;
  if (prefix.endsWith(".")) return topic.startsWith(prefix);
  return topic === prefix || topic.startsWith(`${prefix}.`);
}

/** True when an event on `topic` makes this query stale. */
export function queryDependsOn(query: Pick<Query, "queryKey" | "meta">, topic: string): boolean {
  const head = query.queryKey[0];
  if (typeof head === "string" && topicMatches(head, topic)) return true;
  const extra = query.meta?.topics;
  return Array.isArray(extra) && extra.some((p) => typeof p === "string" && topicMatches(p, topic));
}

export function EventStreamProvider({ token, children }: { token: string | null; children: ReactNode }) {
  const listeners = useRef(new Set<Listener>());
  const [status, setStatus] = useState<StreamStatus>("closed");
  const bus = useMemo<EventBus>(
    () => ({
      status,
      subscribe: (listener) => {
        listeners.current.add(listener);
        return () => {
          listeners.current.delete(listener);
        };
      },
    }),
    [status],
  );

  useEffect(() => {
    if (!token) return;
    return openEventStream({
      url: "/api/events/stream",
      token,
      onStatus: setStatus,
      onEvent: (event) => {
        for (const listener of [...listeners.current]) listener(event);
      },
    });
  }, [token]);

  return <EventBusContext.Provider value={bus}>{children}</EventBusContext.Provider>;
}

/** The connection status, for the header. */
export function useStreamStatus(): StreamStatus {
  return useContext(EventBusContext)?.status ?? "closed";
}

/** For tests and for pages that want the raw bus. */
export const EventBusProvider = EventBusContext.Provider;

export interface UseEventStreamOptions {
  /** Called for every event on the topics, after the matching queries were marked stale. */
  onEvent?: (event: StreamEvent) => void;
  /** Collect events for this long before refreshing, so a burst costs one refetch per query. */
  batchMs?: number;
  /** Topic prefixes to leave alone even though `topics` covers them (a frequent topic handled elsewhere). */
  ignore?: readonly string[];
  /** Only events this accepts refresh anything (e.g. a price report for a pool the page shows). */
  accept?: (event: StreamEvent) => boolean;
  /** Refresh exactly these queries (by key prefix) instead of every query keyed by the event's topic. */
  refresh?: readonly QueryKey[];
}

/**
 * Subscribe to topic prefixes ("spot.", "carbon.anomaly"); each event refreshes the queries that depend
 * on its topic. Returns the connection status and the last event seen.
 */
export function useEventStream(topics: readonly string[], options: UseEventStreamOptions = {}) {
  const bus = useContext(EventBusContext);
  const queryClient = useQueryClient();
  const [lastEvent, setLastEvent] = useState<StreamEvent | null>(null);
  const onEvent = useRef(options.onEvent);
  onEvent.current = options.onEvent;
  const accept = useRef(options.accept);
  accept.current = options.accept;
  const refresh = useRef(options.refresh);
  refresh.current = options.refresh;
  const batchMs = options.batchMs ?? 250;
  const topicsKey = topics.join(",");
  const ignoreKey = (options.ignore ?? []).join(",");

  useEffect(() => {
    if (!bus) return;
    const wanted = topicsKey ? topicsKey.split(",") : [""];
    const ignored = ignoreKey ? ignoreKey.split(",") : [];
    const pending = new Set<string>();
    let timer: ReturnType<typeof setTimeout> | null = null;
    const flush = () => {
      timer = null;
      const stale = [...pending];
      pending.clear();
      if (refresh.current) {
        for (const queryKey of refresh.current) void queryClient.invalidateQueries({ queryKey });
        return;
      }
      void queryClient.invalidateQueries({
        predicate: (query) => stale.some((topic) => queryDependsOn(query, topic)),
      });
    };
    const unsubscribe = bus.subscribe((event) => {
      if (!wanted.some((prefix) => topicMatches(prefix, event.topic))) return;
      if (ignored.some((prefix) => topicMatches(prefix, event.topic))) return;
      if (accept.current && !accept.current(event)) return;
      pending.add(event.topic);
      if (batchMs <= 0) flush();
      else timer ??= setTimeout(flush, batchMs);
      setLastEvent(event);
      onEvent.current?.(event);
    });
    return () => {
      unsubscribe();
      if (timer) clearTimeout(timer);
    };
  }, [bus, queryClient, topicsKey, ignoreKey, batchMs]);

  return { status: bus?.status ?? ("closed" as StreamStatus), lastEvent };
}

export type { QueryKey, StreamEvent };
