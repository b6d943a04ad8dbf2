// Shapes of the Spot routes that answer free-form objects in the OpenAPI schema (the generated client
// types them as `Record<string, unknown>`); these mirror the server's documented fields.
import type { DowntimeStats } from "../components/DowntimeCard";
import type { EmergencyEvent, EmergencyReplica } from "../components/EmergencyEventAlert";

export type { DowntimeStats };

export interface EmergencyStatus {
  agent_id: string;
  in_emergency: boolean;
  notice_status: string;
  notice_deadline: string | null;
  seconds_remaining: number | null;
  primary_instance_id: string | null;
  fastest_boot_pool_id: string | null;
  event: EmergencyEvent | null;
  replica: EmergencyReplica | null;
}

export interface SavingsDay {
  date: string;
  savings_usd: number;
  actual_cost_usd: number;
  on_demand_baseline_usd: number;
}

export interface FleetCharts {
  savings_by_day: SavingsDay[];
  switches_by_day: { date: string; switches: number }[];
  downtime_p95_by_day: { date: string; p95_seconds: number | null }[];
  instances_by_role: Record<string, number>;
}

export interface Savings {
  days: number;
  method: string;
  total_actual_cost_usd: number;
  total_on_demand_baseline_usd: number;
  total_savings_usd: number;
  savings_pct: number | null;
  instances_without_prices: number;
}

export interface PriceHistory {
  instance_id: string;
  pool_id: string | null;
  on_demand_price: number | null;
  points: { at: string; price: number }[];
}

export interface PoolOption {
  pool_id: string;
  region: string | null;
  availability_zone: string | null;
  instance_type: string | null;
  latest_price: number | null;
  on_demand_price: number | null;
  savings_pct: number | null;
  interruption_bucket: string | number | null;
  boot_seconds: number | null;
  observations: number;
  volatility: number | null;
  is_current?: boolean;
}

/** Cast a free-form answer to its documented shape. */
export function as<T>(value: unknown): T {
  return value as T;
}

/** Published once per agent pricing report: `pool_ids` lists the pools it touched, capped (`pools` is the count). */
export const PRICE_REPORT_TOPIC = "spot.pricing.reported";

/** True when a price report may change a view of these pools; a capped or missing pool list may touch any. */
export function reportTouchesPools(payload: Record<string, unknown>, shown: ReadonlySet<string>): boolean {
  if (shown.size === 0) return false;
  const listed = Array.isArray(payload.pool_ids) ? payload.pool_ids.filter((id): id is string => typeof id === "string") : null;
  const total = typeof payload.pools === "number" ? payload.pools : null;
  if (listed === null || (total !== null && total > listed.length)) return true;
  return listed.some((id) => shown.has(id));
}
