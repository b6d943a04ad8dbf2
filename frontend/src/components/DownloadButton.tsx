import { useState } from "react";
import { download } from "../lib/download";
import { ErrorState } from "./states";
import { Button } from "./ui";

type BlobCall = Parameters<typeof download>[0];

/** A button that fetches an export with the session token and saves it; errors show under it. */
export function DownloadButton({ label, filename, fetchFile, testId }: { label: string; filename: string; fetchFile: () => BlobCall; testId?: string }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      await download(fetchFile(), filename);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <span className="inline-flex flex-col">
      <Button variant="secondary" busy={busy} onClick={() => void run()} data-testid={testId}>
        {label}
      </Button>
      {error !== null && <ErrorState error={error} title="Export failed" />}
    </span>
  );
}
