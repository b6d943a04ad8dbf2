import { formatCountdown } from "../lib/format";
import { useNow } from "../hooks/useNow";

/**
 * Time left until `deadline` (ISO 8601), ticking every second. `offsetMs` shifts the browser clock to the
 * server's (simulated) clock: pass serverNow - Date.now() measured when the data was fetched.
 */
export function Countdown({
  deadline,
  offsetMs = 0,
  label = "Time left",
  testId = "countdown",
}: {
  deadline: string;
  offsetMs?: number;
  label?: string;
  testId?: string;
}) {
  const now = useNow(1000) + offsetMs;
  const remaining = new Date(deadline).getTime() - now;
  const passed = remaining <= 0;
  return (
    <span role="timer" aria-label={label} data-testid={testId} data-remaining-ms={Math.max(0, Math.round(remaining))}>
      <span className={passed ? "font-semibold text-red-700" : "font-semibold tabular"}>{formatCountdown(remaining)}</span>
      {passed && <span className="ml-1 text-xs text-red-700">(deadline passed)</span>}
    </span>
  );
}
