// Fails (exit 1) when the generated API client is stale:
//  1. src/api/schema.d.ts must equal what openapi-typescript generates from openapi.json;
//  2. when the Python side is installed (../.venv/bin/spectra, or $SPECTRA_BIN), openapi.json must equal
//     what `spectra openapi` prints for the current code.
// Fix with `make openapi && (cd frontend && npm run gen)`.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const schemaJson = join(root, "openapi.json");
const schemaTs = join(root, "src/api/schema.d.ts");
const tmp = mkdtempSync(join(tmpdir(), "spectra-gen-"));
const problems = [];

try {
  if (!existsSync(schemaJson)) {
    problems.push("openapi.json is missing: run `make openapi` in the repository root");
  } else {
    const spectra = process.env.SPECTRA_BIN ?? resolve(root, "../.venv/bin/spectra");
    if (existsSync(spectra)) {
      const fresh = join(tmp, "openapi.json");
      execFileSync(spectra, ["openapi", "--out", fresh], { stdio: ["ignore", "ignore", "inherit"] });
      if (readFileSync(fresh, "utf8") !== readFileSync(schemaJson, "utf8")) {
        problems.push("openapi.json differs from `spectra openapi`: run `make openapi` in the repository root");
      }
    } else {
      console.warn(`check-gen: ${spectra} not found, only checking schema.d.ts against openapi.json`);
    }
    // Run the very command `npm run gen` runs, writing to a temporary file instead.
    const generated = join(tmp, "schema.d.ts");
    const [bin, ...args] = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).scripts.gen.split(/\s+/);
    const out = args.indexOf("-o");
    if (out < 0) throw new Error("the gen script must write with -o <file>");
    args[out + 1] = generated;
    execFileSync(join(root, "node_modules/.bin", bin), args, { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
    if (!existsSync(schemaTs) || readFileSync(generated, "utf8") !== readFileSync(schemaTs, "utf8")) {
      problems.push("src/api/schema.d.ts is stale: run `npm run gen` in frontend/");
    }
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

if (problems.length) {
  for (const p of problems) console.error(`check-gen: ${p}`);
  process.exit(1);
}
console.log("check-gen: generated API client is up to date");
