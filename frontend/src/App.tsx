import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { Component, useState, type ComponentType, type ReactNode } from "react";
import { BrowserRouter, Navigate, Route, Routes, useLocation } from "react-router-dom";
import { ApiError } from "./api/problem";
import { AuthProvider, useAuth } from "./auth/AuthContext";
import { readToken } from "./auth/session";
import { TenantProvider } from "./auth/tenant";
import { Layout } from "./components/Layout";
import { EmptyState, ErrorState, LoadingState } from "./components/states";
import { EventStreamProvider, useStreamStatus } from "./hooks/useEventStream";
import { PAGES } from "./pages";
import { SignIn } from "./pages/SignIn";
import { NAV_GROUPS, canSee } from "./routes";

export function makeQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        staleTime: 15_000,
        refetchOnWindowFocus: false,
        // A 4xx will not change by asking again; network trouble and 5xx get two more tries.
        retry: (count, error) => count < 2 && !(error instanceof ApiError && error.status >= 400 && error.status < 500),
      },
      mutations: { retry: false },
    },
  });
}

function NotFound() {
  return <EmptyState title="Page not found" hint="Use the navigation to pick a page." />;
}

function Forbidden() {
  return <EmptyState title="Not available with this token" hint="This page needs the admin token." />;
}

/** Where to go once signed in: the page asked for before the sign-in redirect, else the dashboard. */
export function afterSignIn(state: unknown): string {
  const from = (state as { from?: unknown } | null)?.from;
  return typeof from === "string" && from.startsWith("/") && !from.startsWith("/signin") ? from : "/";
}

/** A page that throws while rendering shows an error instead of blanking the whole app. */
class PageBoundary extends Component<{ children: ReactNode }, { error: unknown }> {
  state = { error: null as unknown };

  static getDerivedStateFromError(error: unknown) {
    return { error };
  }

  render() {
    if (this.state.error !== null) return <ErrorState error={this.state.error} title="This page failed to render" onRetry={() => this.setState({ error: null })} />;
    return this.props.children;
  }
}

function Shell() {
  const { status, role } = useAuth();
  const location = useLocation();
  const streamStatus = useStreamStatus();
  if (status === "checking") return <LoadingState label="Checking your token…" />;
  if (status === "signed-out") {
    if (location.pathname === "/signin") return <SignIn />;
    return <Navigate to="/signin" replace state={{ from: location.pathname + location.search }} />;
  }
  const available = new Set(Object.keys(PAGES));
  const allowed = new Map<string, ComponentType>();
  for (const item of NAV_GROUPS.flatMap((g) => g.items)) {
    const page = PAGES[item.path];
    if (page) allowed.set(item.path, canSee(item, role) ? page : Forbidden);
  }
  return (
    <TenantProvider>
    <Layout streamStatus={streamStatus} available={available}>
      <Routes>
        <Route path="/signin" element={<Navigate to={afterSignIn(location.state)} replace />} />
        {[...allowed].map(([path, Page]) => (
          <Route
            key={path}
            path={path}
            element={
              <PageBoundary key={path}>
                <Page />
              </PageBoundary>
            }
          />
        ))}
        <Route path="*" element={<NotFound />} />
      </Routes>
    </Layout>
    </TenantProvider>
  );
}

function Live({ children }: { children: ReactNode }) {
  const { status } = useAuth();
  return <EventStreamProvider token={status === "signed-in" ? readToken() : null}>{children}</EventStreamProvider>;
}

export function App() {
  const [queryClient] = useState(makeQueryClient);
  return (
    <QueryClientProvider client={queryClient}>
      <BrowserRouter>
        <AuthProvider>
          <Live>
            <Shell />
          </Live>
        </AuthProvider>
      </BrowserRouter>
    </QueryClientProvider>
  );
}
