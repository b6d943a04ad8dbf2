// The app shell: a header with the tenant and sign-out, the navigation grouped by product area
// (a drawer under 1024 px), and the page.
import { useState, type ReactNode } from "react";
import { NavLink, useLocation } from "react-router-dom";
import { useAuth } from "../auth/AuthContext";
import type { StreamStatus } from "../lib/sse";
import { NAV_GROUPS, visibleGroups } from "../routes";
import { Button, cx } from "./ui";

const STREAM_LABEL: Record<StreamStatus, string> = {
  open: "live",
  connecting: "connecting",
  reconnecting: "reconnecting",
  closed: "offline",
};

export function Layout({
  children,
  streamStatus,
  available,
}: {
  children: ReactNode;
  streamStatus: StreamStatus;
  available: ReadonlySet<string>;
}) {
  const { me, role, signOut } = useAuth();
  const [open, setOpen] = useState(false);
  const location = useLocation();
  const groups = visibleGroups(NAV_GROUPS, role, available);
  const [lastPath, setLastPath] = useState(location.pathname);
  if (lastPath !== location.pathname) {
    setLastPath(location.pathname);
    setOpen(false); // close the mobile drawer after navigating
  }

  return (
    <div className="min-h-screen lg:flex">
      <a href="#main" className="sr-only focus:not-sr-only focus:absolute focus:left-2 focus:top-2 focus:z-50 focus:bg-white focus:p-2">
        Skip to content
      </a>
      <header className="sticky top-0 z-30 flex items-center justify-between border-b border-slate-200 bg-white px-4 py-2 lg:hidden">
        <span className="font-semibold text-brand-800">Spectra</span>
        <Button variant="ghost" aria-expanded={open} aria-controls="main-nav" onClick={() => setOpen((v) => !v)}>
          {open ? "Close menu" : "Menu"}
        </Button>
      </header>
      <nav
        id="main-nav"
        aria-label="Main"
        className={cx(
          "border-r border-slate-200 bg-white lg:sticky lg:top-0 lg:block lg:h-screen lg:w-56 lg:shrink-0 lg:overflow-y-auto",
          open ? "block" : "hidden",
        )}
      >
        <div className="hidden px-4 py-4 lg:block">
          <span className="text-lg font-semibold text-brand-800">Spectra</span>
          <p className="text-xs text-slate-500">cost · carbon · capacity</p>
        </div>
        {groups.map((group) => (
          <div key={group.label} className="px-2 pb-3">
            <h2 className="px-2 pb-1 text-xs font-semibold uppercase tracking-wide text-slate-500">{group.label}</h2>
            <ul>
              {group.items.map((item) => (
                <li key={item.path}>
                  <NavLink
                    to={item.path}
                    className={({ isActive }) =>
                      cx(
                        "block rounded-md px-2 py-1.5 text-sm",
                        isActive ? "bg-brand-50 font-medium text-brand-800" : "text-slate-700 hover:bg-slate-100",
                      )
                    }
                  >
                    {item.label}
                  </NavLink>
                </li>
              ))}
            </ul>
          </div>
        ))}
        <div className="border-t border-slate-200 px-4 py-3 text-sm">
          <p className="truncate text-slate-700" data-testid="whoami">
            {me?.name} <span className="text-slate-500">({role})</span>
          </p>
          <p className="mb-2 text-xs text-slate-500" data-testid="stream-status">
            updates: {STREAM_LABEL[streamStatus]}
          </p>
          <Button variant="secondary" onClick={() => signOut()} className="w-full">
            Sign out
          </Button>
        </div>
      </nav>
      <main id="main" className="min-w-0 flex-1 px-4 py-4 lg:px-8 lg:py-6">
        {children}
      </main>
    </div>
  );
}
