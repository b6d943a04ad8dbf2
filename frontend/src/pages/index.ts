// Path → page component. The navigation (routes.ts) shows only paths listed here.
import type { ComponentType } from "react";
import { Anomalies } from "./Anomalies";

export const PAGES: Record<string, ComponentType> = {
  "/anomalies": Anomalies,
};
