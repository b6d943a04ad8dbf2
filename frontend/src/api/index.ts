// The one client the app uses, bound to the token of the signed-in session.
import { createApi } from "./client";
import { readToken } from "../auth/session";

export const UNAUTHORIZED_EVENT = "spectra:unauthorized";

export const api = createApi({
  baseUrl: typeof window === "undefined" ? "" : window.location.origin,
  getToken: readToken,
  onUnauthorized: () => window.dispatchEvent(new Event(UNAUTHORIZED_EVENT)),
});

export { unwrap } from "./client";
export type { Schemas } from "./client";
export { ApiError } from "./problem";
