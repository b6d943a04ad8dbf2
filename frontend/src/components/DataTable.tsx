import type { ReactNode } from "react";
import { cx } from "./ui";

export interface Column<T> {
  key: string;
  header: ReactNode;
  render: (row: T) => ReactNode;
  align?: "left" | "right" | "center";
  className?: string;
}

/**
 * A table that scrolls sideways on narrow screens instead of squeezing its columns. The scroller is a named,
 * focusable region so a keyboard user can scroll it too (a table without buttons gives nothing else to focus).
 */
export function DataTable<T>({
  columns,
  rows,
  rowKey,
  caption,
  testId,
  rowTestId,
}: {
  columns: Column<T>[];
  rows: readonly T[];
  rowKey: (row: T) => string;
  caption: string;
  testId?: string;
  rowTestId?: (row: T) => string;
}) {
  return (
    <div className="relative -mx-4 overflow-x-auto px-4 focus-visible:outline-2 focus-visible:outline-brand-600" data-testid={testId} role="region" aria-label={caption} tabIndex={0}>
      <table className="min-w-full text-left text-sm">
        <caption className="sr-only">{caption}</caption>
        <thead>
          <tr className="border-b border-slate-200 text-xs uppercase tracking-wide text-slate-500">
            {columns.map((c) => (
              <th
                key={c.key}
                scope="col"
                className={cx("whitespace-nowrap px-2 py-2 font-medium", c.align === "right" && "text-right", c.align === "center" && "text-center")}
              >
                {c.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={rowKey(row)} className="border-b border-slate-100 last:border-0" data-testid={rowTestId?.(row)}>
              {columns.map((c) => (
                <td
                  key={c.key}
                  className={cx("px-2 py-2 align-top", c.align === "right" && "text-right tabular", c.align === "center" && "text-center", c.className)}
                >
                  {c.render(row)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
