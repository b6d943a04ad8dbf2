import { useQueryClient } from "@tanstack/react-query";
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { api, UNAUTHORIZED_EVENT, unwrap } from "../api";
import type { ResponseOf } from "../api/client";
import { ApiError, toApiError } from "../api/problem";
import { clearToken, readToken, storeToken } from "./session";

export type WhoAmI = ResponseOf<"/api/whoami", "get">;
export type Role = "admin" | "client";

interface AuthState {
  status: "checking" | "signed-out" | "signed-in";
  me: WhoAmI | null;
  role: Role | null;
  notice: string | null; // why the user was signed out, shown on the sign-in page
  signIn: (token: string) => Promise<WhoAmI>;
  signOut: (notice?: string) => void;
}

const AuthContext = createContext<AuthState | null>(null);

async function whoami(token: string): Promise<WhoAmI> {
  return unwrap(api.GET("/api/whoami", { headers: { Authorization: `Bearer ${token}` } }));
}

export function AuthProvider({ children }: { children: ReactNode }) {
  const queryClient = useQueryClient();
  const [me, setMe] = useState<WhoAmI | null>(null);
  const [status, setStatus] = useState<AuthState["status"]>(() => (readToken() ? "checking" : "signed-out"));
  const [notice, setNotice] = useState<string | null>(null);

  const signOut = useCallback(
    (why?: string) => {
      clearToken();
      queryClient.clear();
      setMe(null);
      setStatus("signed-out");
      setNotice(why ?? null);
    },
    [queryClient],
  );

  const signIn = useCallback(async (token: string) => {
    const trimmed = token.trim();
    if (!trimmed) throw new ApiError({ status: 0, code: "token_required", detail: "Enter a token" });
    const who = await whoami(trimmed);
    storeToken(trimmed);
    setMe(who);
    setNotice(null);
    setStatus("signed-in");
    return who;
  }, []);

  // A stored token (after a reload) is checked once; a rejected one signs out.
  useEffect(() => {
    const token = readToken();
    if (!token) return;
    let cancelled = false;
    whoami(token)
      .then((who) => {
        if (cancelled) return;
        setMe(who);
        setStatus("signed-in");
      })
      .catch((error: unknown) => {
        if (cancelled) return;
        const problem = toApiError(error);
        if (problem.status === 401) signOut("Your token is no longer valid. Sign in again.");
        else {
          setStatus("signed-out");
          setNotice(`Could not check your token: ${problem.detail}`);
        }
      });
    return () => {
      cancelled = true;
    };
  }, [signOut]);

  useEffect(() => {
    const onUnauthorized = () => signOut("Your session ended (the token was revoked or rotated). Sign in again.");
    window.addEventListener(UNAUTHORIZED_EVENT, onUnauthorized);
    return () => window.removeEventListener(UNAUTHORIZED_EVENT, onUnauthorized);
  }, [signOut]);

  const value = useMemo<AuthState>(
    () => ({
      status,
      me,
      role: me ? (me.role === "admin" ? "admin" : "client") : null,
      notice,
      signIn,
      signOut,
    }),
    [status, me, notice, signIn, signOut],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthState {
  const state = useContext(AuthContext);
  if (!state) throw new Error("useAuth outside AuthProvider");
  return state;
}
