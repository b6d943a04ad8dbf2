// Loading, empty and error states: every data view shows one of them instead of a blank area.
import type { UseQueryResult } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { ApiError, toApiError } from "../api/problem";
import { Button } from "./ui";

export function LoadingState({ label = "Loading…" }: { label?: string }) {
  return (
    <div role="status" aria-live="polite" className="flex items-center gap-2 py-6 text-sm text-slate-500" data-testid="loading">
      <span className="h-4 w-4 animate-spin rounded-full border-2 border-slate-400 border-t-transparent" aria-hidden />
      {label}
    </div>
  );
}

export function EmptyState({ title, hint, action }: { title: string; hint?: ReactNode; action?: ReactNode }) {
  return (
    <div className="rounded-md border border-dashed border-slate-300 px-4 py-6 text-center" data-testid="empty">
      <p className="text-sm font-medium text-slate-700">{title}</p>
      {hint && <p className="mt-1 text-sm text-slate-500">{hint}</p>}
      {action && <div className="mt-3">{action}</div>}
    </div>
  );
}

/** A failed request: the problem's `detail`, its machine `code`, the fields it names and the request id. */
export function ErrorState({ error, onRetry, title = "Something went wrong" }: { error: unknown; onRetry?: () => void; title?: string }) {
  const problem = toApiError(error);
  return (
    <div role="alert" className="rounded-md border border-red-200 bg-red-50 px-4 py-3 text-sm text-red-900" data-testid="error">
      <p className="font-medium">{title}</p>
      <p className="mt-1" data-testid="error-detail">
        {problem.detail}
      </p>
      {problem.errors.length > 0 && (
        <ul className="mt-1 list-disc pl-5">
          {problem.errors.map((item, i) => (
            <li key={i}>
              {ApiError.where(item) && <span className="font-mono">{ApiError.where(item)}: </span>}
              {item.msg}
            </li>
          ))}
        </ul>
      )}
      <p className="mt-1 text-xs text-red-700">
        code <code data-testid="error-code">{problem.code}</code>
        {problem.status > 0 && <> · HTTP {problem.status}</>}
        {problem.requestId && <> · request {problem.requestId}</>}
      </p>
      {onRetry && (
        <Button variant="secondary" className="mt-2" onClick={onRetry}>
          Try again
        </Button>
      )}
    </div>
  );
}

/**
 * Render a query: loading → LoadingState, error → ErrorState (with retry), empty → EmptyState,
 * otherwise `children(data)`.
 */
export function QueryView<T>({
  query,
  children,
  isEmpty,
  empty,
  loadingLabel,
}: {
  query: UseQueryResult<T, unknown>;
  children: (data: T) => ReactNode;
  isEmpty?: (data: T) => boolean;
  empty?: ReactNode;
  loadingLabel?: string;
}) {
  if (query.isPending) return <LoadingState label={loadingLabel} />;
  if (query.isError) return <ErrorState error={query.error} onRetry={() => void query.refetch()} />;
  const data = query.data as T;
  if (isEmpty?.(data)) return <>{empty ?? <EmptyState title="Nothing here yet" />}</>;
  return <>{children(data)}</>;
}
