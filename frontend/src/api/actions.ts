// One Idempotency-Key per *logical* user action. Clicking again after the outcome stayed unknown
// (no answer, or a gateway error) with the same inputs re-sends the same key, so the server replays
// the first result instead of acting twice; once the server has answered, the next click is a new action.
import { useMutation, type UseMutationOptions } from "@tanstack/react-query";
import { useRef } from "react";
import { newIdempotencyKey } from "./client";
import { ApiError } from "./problem";

/** JSON with sorted object keys, so {a,b} and {b,a} are the same inputs. */
export function stableStringify(value: unknown): string {
  if (value === undefined) return "null";
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(",")}}`;
}

/** The outcome is unknown when nothing (or only a gateway) answered: the server may have acted. */
export function outcomeUnknown(error: unknown): boolean {
  if (!(error instanceof ApiError)) return true;
  return error.status === 0 || error.status === 502 || error.status === 503 || error.status === 504;
}

export class ActionKeys {
  private open: { signature: string; key: string } | null = null;

  constructor(private readonly newKey: () => string = newIdempotencyKey) {}

  /** The key to send for these inputs: the open action's key when the inputs match, else a new one. */
  keyFor(variables: unknown): string {
    const signature = stableStringify(variables);
    if (this.open?.signature !== signature) this.open = { signature, key: this.newKey() };
    return this.open.key;
  }

  /** Close the action once the server answered; keep it open when the outcome is unknown. */
  settle(error?: unknown): void {
    if (error === undefined || !outcomeUnknown(error)) this.open = null;
  }
}

/**
 * A TanStack mutation whose function receives the action's Idempotency-Key; pass it as a header:
 * `api.POST(path, { ..., headers: { "Idempotency-Key": key } })`.
 */
export function useAction<TVariables, TData>(
  fn: (variables: TVariables, key: string) => Promise<TData>,
  options: Omit<UseMutationOptions<TData, ApiError, TVariables>, "mutationFn"> = {},
) {
  const keys = useRef<ActionKeys | null>(null);
  keys.current ??= new ActionKeys();
  return useMutation<TData, ApiError, TVariables>({
    ...options,
    mutationFn: async (variables) => {
      const actionKeys = keys.current!;
      const key = actionKeys.keyFor(variables);
      try {
        const data = await fn(variables, key);
        actionKeys.settle();
        return data;
      } catch (error) {
        actionKeys.settle(error);
        throw error;
      }
    },
  });
}

export function idempotencyHeaders(key: string): Record<string, string> {
  return { "Idempotency-Key": key };
}
