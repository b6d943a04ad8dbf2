// Path → page component. The navigation (routes.ts) shows only paths listed here.
import type { ComponentType } from "react";
import { Admin } from "./Admin";
import { Alerts } from "./Alerts";
import { Anomalies } from "./Anomalies";
import { Budgets } from "./Budgets";
import { Dashboard } from "./Dashboard";
import { Fleet } from "./Fleet";
import { Instances } from "./Instances";
import { Metrics } from "./Metrics";
import { Regions } from "./Regions";
import { Reports } from "./Reports";
import { Scheduler } from "./Scheduler";
import { Settings } from "./Settings";

export const PAGES: Record<string, ComponentType> = {
  "/": Dashboard,
  "/regions": Regions,
  "/instances": Instances,
  "/anomalies": Anomalies,
  "/budgets": Budgets,
  "/scheduler": Scheduler,
  "/reports": Reports,
  "/settings": Settings,
  "/fleet": Fleet,
  "/admin": Admin,
  "/capacity/metrics": Metrics,
  "/capacity/alerts": Alerts,
};
