// The lowest-carbon contiguous windows in an hourly forecast: for a job of `hours` hours, the start hour
// whose window has the lowest mean forecast intensity (prefix sums, O(n)), then the next best windows that
// do not overlap the ones already picked.

export interface HourlyPoint {
  hour: string;
  mean: number;
}

export interface Window {
  start: string;
  end: string; // exclusive: the hour after the window's last hour
  meanGPerKwh: number;
  startIndex: number;
}

export function bestWindows(points: HourlyPoint[], hours: number, count = 3): Window[] {
  const n = points.length;
  if (hours < 1 || hours > n) return [];
  const prefix = [0];
  for (const p of points) prefix.push(prefix[prefix.length - 1]! + p.mean);
  const candidates = [];
  for (let i = 0; i + hours <= n; i++) candidates.push({ i, mean: (prefix[i + hours]! - prefix[i]!) / hours });
  candidates.sort((a, b) => a.mean - b.mean || a.i - b.i);
  const picked: Window[] = [];
  for (const c of candidates) {
    if (picked.length >= count) break;
    if (picked.some((w) => c.i < w.startIndex + hours && w.startIndex < c.i + hours)) continue;
    const endHour = new Date(new Date(points[c.i + hours - 1]!.hour).getTime() + 3_600_000).toISOString();
    picked.push({ start: points[c.i]!.hour, end: endHour, meanGPerKwh: c.mean, startIndex: c.i });
  }
  return picked;
}

/** Mean intensity of the first `hours` hours: running the job right away. */
export function runNowMean(points: HourlyPoint[], hours: number): number | null {
  if (hours < 1 || hours > points.length) return null;
  return points.slice(0, hours).reduce((s, p) => s + p.mean, 0) / hours;
}
