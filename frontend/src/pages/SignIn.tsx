import { useState, type FormEvent } from "react";
import { toApiError } from "../api/problem";
import { useAuth } from "../auth/AuthContext";
import { ErrorState } from "../components/states";
import { Button, TextField } from "../components/ui";

export function SignIn() {
  const { signIn, notice } = useAuth();
  const [token, setToken] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn(token); // the shell then leaves /signin for the page asked for before

    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="flex min-h-screen items-center justify-center px-4">
      <form onSubmit={submit} className="w-full max-w-sm space-y-4 rounded-lg border border-slate-200 bg-white p-6 shadow-sm" aria-labelledby="signin-title">
        <div>
          <h1 id="signin-title" className="text-xl font-semibold text-brand-800">
            Sign in to Spectra
          </h1>
          <p className="text-sm text-slate-600">Use the admin token or a client token. It is kept only in this browser tab.</p>
        </div>
        {notice && (
          <p role="status" className="rounded-md bg-amber-50 px-3 py-2 text-sm text-amber-900">
            {notice}
          </p>
        )}
        <TextField
          label="Token"
          name="token"
          type="password"
          autoComplete="off"
          spellCheck={false}
          value={token}
          onChange={(e) => setToken(e.target.value)}
          required
          data-testid="token-input"
        />
        {error !== null &&
          (toApiError(error).status === 401 ? (
            <p role="alert" className="rounded-md bg-red-50 px-3 py-2 text-sm text-red-900" data-testid="sign-in-error">
              This token is not valid. Check that you copied all of it; a regenerated token replaces the old one.
            </p>
          ) : (
            <ErrorState error={error} title="Sign-in failed" />
          ))}
        <Button type="submit" busy={busy} className="w-full" data-testid="sign-in">
          Sign in
        </Button>
      </form>
    </main>
  );
}
