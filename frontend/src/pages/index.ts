// Path → page component. The navigation (routes.ts) shows only paths listed here.
import type { ComponentType } from "react";
import { Anomalies } from "./Anomalies";
import { Fleet } from "./Fleet";

export const PAGES: Record<string, ComponentType> = {
  "/anomalies": Anomalies,
  "/fleet": Fleet,
};
