// Human labels for the API's machine values.
export function humanize(value: string | null | undefined): string {
  if (!value) return "—";
  const text = value.replaceAll("_", " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export type Tone = "neutral" | "good" | "warn" | "bad";

export function severityTone(severity: string | null | undefined): Tone {
  switch (severity) {
    case "critical":
    case "high":
      return "bad";
    case "medium":
    case "warning":
      return "warn";
    case "low":
    case "info":
      return "neutral";
    default:
      return "neutral";
  }
}

export function statusTone(status: string | null | undefined): Tone {
  switch (status) {
    case "resolved":
    case "completed":
    case "succeeded":
    case "healthy":
    case "active":
    case "online":
    case "promoted":
    case "accepted":
    case "applied":
      return "good";
    case "open":
    case "pending":
    case "running":
    case "queued":
    case "degraded":
    case "firing":
      return "warn";
    case "failed":
    case "error":
    case "offline":
    case "unhealthy":
    case "suspended":
      return "bad";
    default:
      return "neutral";
  }
}
