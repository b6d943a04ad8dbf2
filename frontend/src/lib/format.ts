// Every number the UI shows carries its unit; these helpers are the only place units are spelled.

const DASH = "—";

function finite(value: number | null | undefined): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

export function toNumber(value: number | string | null | undefined): number | null {
  if (value === null || value === undefined || value === "") return null;
  const n = typeof value === "number" ? value : Number(value);
  return Number.isFinite(n) ? n : null;
}

export function formatNumber(value: number | string | null | undefined, digits = 1): string {
  const n = toNumber(value);
  if (!finite(n)) return DASH;
  return n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

/** "12.5 kWh"; the unit is always attached with a narrow no-break space so it never wraps alone. */
export function withUnit(value: number | string | null | undefined, unit: string, digits = 1): string {
  const text = formatNumber(value, digits);
  return text === DASH ? DASH : `${text}\u202f${unit}`;
}

/** Money is decimal USD on the wire (a string or number). */
export function formatUsd(value: number | string | null | undefined, digits = 2): string {
  const n = toNumber(value);
  if (!finite(n)) return DASH;
  const sign = n < 0 ? "-" : "";
  return `${sign}$${Math.abs(n).toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })}`;
}

/** An hourly price ("$0.0412/h"); a missing price is a bare dash, not "—/h". */
export function formatUsdPerHour(value: number | string | null | undefined, digits = 4): string {
  const text = formatUsd(value, digits);
  return text === DASH ? DASH : `${text}/h`;
}

/** CO2e mass from kilograms, scaled to g / kg / t so the figure stays readable. */
export function formatCo2e(kg: number | string | null | undefined): string {
  const n = toNumber(kg);
  if (!finite(n)) return DASH;
  const abs = Math.abs(n);
  if (abs >= 1000) return withUnit(n / 1000, "t CO2e", 2);
  if (abs > 0 && abs < 1) return withUnit(n * 1000, "g CO2e", 1);
  return withUnit(n, "kg CO2e", abs >= 100 ? 0 : 2);
}

export function formatIntensity(gPerKwh: number | string | null | undefined): string {
  return withUnit(gPerKwh, "gCO2e/kWh", 0);
}

export function formatPercent(value: number | string | null | undefined, digits = 1): string {
  return withUnit(value, "%", digits);
}

/** A fraction (0..1) as a percentage. */
export function formatRatio(value: number | string | null | undefined, digits = 1): string {
  const n = toNumber(value);
  return finite(n) ? formatPercent(n * 100, digits) : DASH;
}

/** Seconds as "850 ms", "12.3 s", "4 min 05 s", "2 h 03 min". */
export function formatDuration(seconds: number | string | null | undefined): string {
  const n = toNumber(seconds);
  if (!finite(n)) return DASH;
  const abs = Math.abs(n);
  const sign = n < 0 ? "-" : "";
  if (abs < 1) return `${sign}${Math.round(abs * 1000)}\u202fms`;
  if (abs < 60) return `${sign}${formatNumber(abs, 1)}\u202fs`;
  const total = Math.round(abs);
  if (total < 3600) {
    const m = Math.floor(total / 60);
    const s = total % 60;
    return `${sign}${m}\u202fmin ${String(s).padStart(2, "0")}\u202fs`;
  }
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  return `${sign}${h}\u202fh ${String(m).padStart(2, "0")}\u202fmin`;
}

/**
 * A countdown to a deadline as a clock: "1:59", "12:05", "1:00:00". Rounds *up* to the whole second so
 * "0:00" is shown only once the deadline has really passed; past deadlines are "0:00".
 */
export function formatCountdown(remainingMs: number): string {
  const total = Math.max(0, Math.ceil(remainingMs / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = String(s).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return DASH;
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return DASH;
  return date.toLocaleString("en-GB", {
    year: "numeric",
    month: "short",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    timeZoneName: "short",
  });
}

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return DASH;
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return DASH;
  return date.toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit" });
}

/** "3 min ago", "in 2 h"; `now` is injectable for tests and for the simulated clock. */
export function formatRelative(iso: string | null | undefined, now: number = Date.now()): string {
  if (!iso) return DASH;
  const t = new Date(iso).getTime();
  if (Number.isNaN(t)) return DASH;
  const diff = Math.round((t - now) / 1000);
  const abs = Math.abs(diff);
  const [value, unit] =
    abs < 60 ? [abs, "s"] : abs < 3600 ? [Math.floor(abs / 60), "min"] : abs < 86400 ? [Math.floor(abs / 3600), "h"] : [Math.floor(abs / 86400), "d"];
  if (abs < 5) return "just now";
  return diff < 0 ? `${value}\u202f${unit} ago` : `in ${value}\u202f${unit}`;
}

/** Axis ticks: enough decimals for the magnitude of the data (0.0312, 1.25, 1,250). */
export function axisNumber(value: number): string {
  const abs = Math.abs(value);
  if (abs === 0) return "0";
  if (abs < 0.01) return value.toPrecision(2);
  if (abs < 1) return value.toFixed(3);
  if (abs < 100) return value.toFixed(1);
  return Math.round(value).toLocaleString("en-US");
}

/** A long opaque id shortened for tables (full id in the title attribute). */
export function shortId(id: string | null | undefined, length = 8): string {
  if (!id) return "—";
  return id.length > length + 1 ? `${id.slice(0, length)}…` : id;
}
