// Which tenant a page shows. A client token is bound to its own client; the admin picks one (or "all
// clients" where the API allows it) in the navigation, remembered for the tab.
import { useQuery } from "@tanstack/react-query";
import { createContext, useContext, useEffect, useState, type ReactNode } from "react";
import { api, unwrap } from "../api";
import { useAuth } from "./AuthContext";

const STORAGE_KEY = "spectra.adminClient";

interface TenantState {
  /** The client the page should show; null = all clients (admin only). */
  clientId: string | null;
  isAdmin: boolean;
  setClientId: (id: string | null) => void;
}

const TenantContext = createContext<TenantState | null>(null);

export function TenantProvider({ children }: { children: ReactNode }) {
  const { me, role } = useAuth();
  const [picked, setPicked] = useState<string | null>(() => sessionStorage.getItem(STORAGE_KEY));
  const isAdmin = role === "admin";
  const setClientId = (id: string | null) => {
    if (id) sessionStorage.setItem(STORAGE_KEY, id);
    else sessionStorage.removeItem(STORAGE_KEY);
    setPicked(id);
  };
  const clientId = isAdmin ? picked : (me?.client_id ?? null);
  return <TenantContext.Provider value={{ clientId, isAdmin, setClientId }}>{children}</TenantContext.Provider>;
}

export function useTenant(): TenantState {
  const state = useContext(TenantContext);
  if (!state) throw new Error("useTenant outside TenantProvider");
  return state;
}

export function useClients(enabled: boolean) {
  return useQuery({
    queryKey: ["admin.client", "list"],
    queryFn: () => unwrap(api.GET("/api/admin/clients")),
    enabled,
    staleTime: 60_000,
  });
}

/** The admin's client selector; renders nothing for client tokens. */
export function ClientPicker({ allowAll = true }: { allowAll?: boolean }) {
  const { isAdmin, clientId, setClientId } = useTenant();
  const clients = useClients(isAdmin);
  const list = clients.data ?? [];
  // A remembered client that no longer exists is forgotten.
  useEffect(() => {
    if (clientId && clients.isSuccess && !list.some((c) => c.id === clientId)) setClientId(null);
  }, [clientId, clients.isSuccess, list, setClientId]);
  if (!isAdmin) return null;
  return (
    <div className="text-sm">
      <label htmlFor="client-picker" className="block text-sm font-medium text-slate-700">
        Client
      </label>
      <select
        id="client-picker"
        data-testid="client-picker"
        className="mt-1 block w-full rounded-md border border-slate-300 bg-white px-2 py-1.5 text-sm shadow-sm"
        value={clientId ?? ""}
        onChange={(e) => setClientId(e.target.value || null)}
      >
        {(allowAll || !clientId) && <option value="">{allowAll ? "All clients" : "Pick a client…"}</option>}
        {list.map((c) => (
          <option key={c.id} value={c.id}>
            {c.name}
          </option>
        ))}
      </select>
    </div>
  );
}
