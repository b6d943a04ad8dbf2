// Path → page component. The navigation (routes.ts) shows only paths listed here.
import type { ComponentType } from "react";
import { Admin } from "./Admin";
import { Anomalies } from "./Anomalies";
import { Budgets } from "./Budgets";
import { Fleet } from "./Fleet";
import { Instances } from "./Instances";
import { Reports } from "./Reports";

export const PAGES: Record<string, ComponentType> = {
  "/instances": Instances,
  "/anomalies": Anomalies,
  "/budgets": Budgets,
  "/reports": Reports,
  "/fleet": Fleet,
  "/admin": Admin,
};
