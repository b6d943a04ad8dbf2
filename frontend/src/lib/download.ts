// Exports (CSV, PDF) need the bearer token, so a plain link cannot fetch them: fetch the file through the
// client and hand the browser a blob URL.
import { parseProblem, networkError } from "../api/problem";

interface BlobResult {
  data?: Blob;
  error?: unknown;
  response: Response;
}

export function filenameFrom(response: Response, fallback: string): string {
  const header = response.headers.get("Content-Disposition") ?? "";
  const match = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(header);
  return match?.[1] ? decodeURIComponent(match[1]) : fallback;
}

export async function download(call: Promise<BlobResult>, fallbackName: string): Promise<string> {
  let result: BlobResult;
  try {
    result = await call;
  } catch (error) {
    throw networkError(error);
  }
  if (!result.response.ok || !result.data) {
    let body: unknown = result.error;
    if (body instanceof Blob) {
      const text = await body.text();
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
    }
    throw parseProblem(result.response.status, body, result.response.headers.get("X-Request-ID"));
  }
  const name = filenameFrom(result.response, fallbackName);
  const url = URL.createObjectURL(result.data);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return name;
}
