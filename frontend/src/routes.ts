// Navigation: pages grouped by product area; `admin` pages are shown to the admin token only and
// `tenant` pages only to client tokens (an admin picks a client inside the page instead).
export type Audience = "all" | "admin";

export interface NavItem {
  path: string;
  label: string;
  audience: Audience;
}

export interface NavGroup {
  label: string;
  items: NavItem[];
}

// Paths never collide with the server's own (/metrics is Prometheus, /health, /docs): a reload must reach the UI.
export const NAV_GROUPS: NavGroup[] = [
  {
    label: "SPECTRA",
    items: [
      { path: "/", label: "Dashboard", audience: "all" },
      { path: "/regions", label: "Regions", audience: "all" },
      { path: "/instances", label: "Instances", audience: "all" },
      { path: "/anomalies", label: "Anomalies", audience: "all" },
      { path: "/budgets", label: "Budgets", audience: "all" },
      { path: "/scheduler", label: "Scheduler", audience: "all" },
      { path: "/reports", label: "Reports", audience: "all" },
      { path: "/settings", label: "Settings", audience: "all" },
    ],
  },
  {
    label: "Spot",
    items: [
      { path: "/fleet", label: "Fleet", audience: "all" },
      { path: "/admin", label: "Admin", audience: "admin" },
    ],
  },
  {
    label: "Capacity",
    items: [
      { path: "/capacity/metrics", label: "Metrics", audience: "all" },
      { path: "/capacity/alerts", label: "Alerts", audience: "all" },
    ],
  },
];

export function canSee(item: NavItem, role: "admin" | "client" | null): boolean {
  if (role === null) return false;
  return item.audience === "all" || role === "admin";
}

/** The groups and items a role may see, restricted to `available` paths when given; empty groups dropped. */
export function visibleGroups(groups: NavGroup[], role: "admin" | "client" | null, available?: ReadonlySet<string>): NavGroup[] {
  return groups
    .map((g) => ({ ...g, items: g.items.filter((i) => canSee(i, role) && (!available || available.has(i.path))) }))
    .filter((g) => g.items.length > 0);
}
