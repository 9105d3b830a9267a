// Shared set-up for the server end-to-end tests: writes a synthetic model with
// `moxie synth` (random weights, real tokenizer and chat template) and starts a real
// `moxie serve` on a free loopback port.
//
// Environment: MOXIE_BIN (the moxie binary; default <repo>/build/moxie),
// MOXIE_SERVER_E2E_START_MS (how long to wait for the server, default 60000).

import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, "../../..");
export const moxieBin = resolve(process.env.MOXIE_BIN ?? join(repoRoot, "build/moxie"));

export function freePort() {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolvePort(port));
    });
  });
}

/** Writes a synthetic GGUF with `moxie synth`; returns its path (inside `dir`). */
export function synthModel(dir, name, args = ["--arch", "qwen3moe", "--preset", "tiny"]) {
  const path = join(dir, `${name}.gguf`);
  execFileSync(moxieBin, ["synth", ...args, "-o", path], { stdio: ["ignore", "ignore", "inherit"] });
  return path;
}

async function waitUntilHealthy(url, child, output, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`moxie serve exited with ${child.exitCode}:\n${output.join("")}`);
    try {
      if ((await fetch(`${url}/health`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`moxie serve did not answer at ${url} within ${timeoutMs} ms:\n${output.join("")}`);
}

/**
 * Starts `moxie serve` on a fresh tiny synthetic model (alias "tiny") with `extraArgs`.
 * Returns { url, port, model, output, stop() }; stop() sends SIGTERM and waits for exit.
 */
export async function startServer(extraArgs = []) {
  const dir = mkdtempSync(join(tmpdir(), "moxie-server-e2e-"));
  const model = synthModel(dir, "tiny");
  const port = await freePort();
  const args = ["serve", "-m", model, "--alias", "tiny", "--host", "127.0.0.1", "--port", String(port),
    "-t", "1", ...extraArgs];
  const child = spawn(moxieBin, args, { stdio: ["ignore", "pipe", "pipe"] });
  const output = [];
  child.stdout.on("data", (d) => output.push(String(d)));
  child.stderr.on("data", (d) => output.push(String(d)));
  const url = `http://127.0.0.1:${port}`;
  await waitUntilHealthy(url, child, output, Number(process.env.MOXIE_SERVER_E2E_START_MS ?? 60000));
  return {
    url,
    port,
    model: "tiny",
    output,
    alive: () => child.exitCode === null && child.signalCode === null,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
      return child.exitCode;
    },
  };
}
