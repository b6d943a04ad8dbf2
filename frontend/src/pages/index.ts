// Path → page component. The navigation (routes.ts) shows only paths listed here.
import type { ComponentType } from "react";

export const PAGES: Record<string, ComponentType> = {};
