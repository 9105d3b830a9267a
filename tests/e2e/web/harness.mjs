// Shared set-up for the chat page's browser tests: starts the server under test and
// Debian's Chromium (through playwright-core; no browser is ever downloaded).
//
// Which server (first that applies):
//   MOXIE_WEB_E2E_SERVER  a shell command with placeholders
//       {port}         a free TCP port the server must listen on (127.0.0.1)
//       {assets}       the built page (MOXIE_WEB_DIST, default <repo>/build/web/dist)
//       {api_key_flag} "--api-key <key>" for the tests that need a key-protected server, else ""
//   MOXIE_BIN             the real `moxie serve` (what ctest runs): two synthetic models
//       (`moxie synth`, qwen3moe and deepseek2 "small") named synth-qwen3moe and
//       synth-deepseek3 in a models.toml with prices, metering into a fresh SQLite file;
//       a key-protected one runs with --auth required and a key made by `moxie keys create`.
//   otherwise             the stand-in in fake_server.mjs.
// Only the stand-in understands the [[marker]] scripts (see fake_server.mjs); tests that
// need a scripted reply ask for it with startServer({ scripted: true }).

import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, "../../..");
export const distDir = resolve(process.env.MOXIE_WEB_DIST ?? join(repoRoot, "build/web/dist"));
export const artifactsDir = resolve(process.env.MOXIE_WEB_E2E_ARTIFACTS ?? join(here, "artifacts"));
const FAKE_COMMAND = `node ${JSON.stringify(join(here, "fake_server.mjs"))} --port {port} --assets {assets} {api_key_flag}`;
const moxieBin = process.env.MOXIE_BIN ? resolve(process.env.MOXIE_BIN) : null;
const serverTemplate = process.env.MOXIE_WEB_E2E_SERVER ?? (moxieBin ? null : FAKE_COMMAND);
export const TEST_API_KEY = "sk-moxie-e2e-test-key"; // the stand-in's; the real server makes its own

function freePort() {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolvePort(port));
    });
  });
}

async function waitUntilUp(url, child, output, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}:\n${output.join("")}`);
    try {
      await fetch(`${url}/v1/models`); // any HTTP answer (even 401) means it is up
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`server did not answer at ${url} within ${timeoutMs} ms:\n${output.join("")}`);
}

const MODELS_TOML = `# two synthetic models for the chat page's browser tests
[[model]]
path = "qwen3moe.gguf"
alias = "synth-qwen3moe"
input_per_million_usd = "0.14"
cached_input_per_million_usd = "0.035"
output_per_million_usd = "0.28"

[[model]]
path = "deepseek2.gguf"
alias = "synth-deepseek3"
input_per_million_usd = "0.27"
cached_input_per_million_usd = "0.07"
output_per_million_usd = "1.10"
`;

/** The real server's command line in a fresh folder: models, models.toml, database, key. */
function moxieServeArgs(dir, port, { apiKey, extraArgs }) {
  for (const arch of ["qwen3moe", "deepseek2"]) {
    execFileSync(moxieBin, ["synth", "--arch", arch, "--preset", "small", "-o", join(dir, `${arch}.gguf`)], { stdio: "ignore" });
  }
  writeFileSync(join(dir, "models.toml"), MODELS_TOML);
  const db = join(dir, "metering.sqlite");
  let secret = "";
  if (apiKey) {
    const created = execFileSync(moxieBin, ["keys", "create", "--db", db, "--name", "e2e"], { encoding: "utf8" });
    secret = /secret[^:]*:\s*(\S+)/.exec(created)?.[1];
    if (!secret) throw new Error(`no key in the output of moxie keys create:\n${created}`);
  }
  const auth = extraArgs.includes("--auth") ? [] : ["--auth", apiKey ? "required" : "off"];
  const args = ["serve", "--config", join(dir, "models.toml"), "--db", db, ...auth,
    "--host", "127.0.0.1", "--port", String(port), "-t", "1", ...extraArgs];
  return { args, secret };
}

/**
 * Starts the server under test. `apiKey` asks for one that requires a key (the key to use is
 * in the result's apiKey); `scripted` asks for the stand-in whatever the environment says;
 * `extraArgs` go to `moxie serve` (real server only, e.g. ["--free-rpm", "1"]).
 */
export async function startServer({ apiKey = "", scripted = false, extraArgs = [] } = {}) {
  if (!existsSync(join(distDir, "manifest.json"))) {
    throw new Error(`no built page in ${distDir}: build moxie first or set MOXIE_WEB_DIST`);
  }
  const port = await freePort();
  const template = scripted ? FAKE_COMMAND : serverTemplate;
  let child;
  let key = apiKey;
  let dir = null;
  if (template) {
    const command = template
      .replaceAll("{port}", String(port))
      .replaceAll("{assets}", JSON.stringify(distDir))
      .replaceAll("{api_key_flag}", apiKey ? `--api-key ${apiKey}` : "");
    child = spawn("bash", ["-c", `exec ${command}`], { stdio: ["ignore", "pipe", "pipe"] });
  } else {
    dir = mkdtempSync(join(tmpdir(), "moxie-web-e2e-"));
    const { args, secret } = moxieServeArgs(dir, port, { apiKey, extraArgs });
    key = secret;
    child = spawn(moxieBin, args, { stdio: ["ignore", "pipe", "pipe"] });
  }
  const output = [];
  child.stdout.on("data", (d) => output.push(String(d)));
  child.stderr.on("data", (d) => output.push(String(d)));
  const url = `http://127.0.0.1:${port}`;
  await waitUntilUp(url, child, output, Number(process.env.MOXIE_WEB_E2E_START_MS ?? 30000));
  return {
    url,
    scripted: template === FAKE_COMMAND,
    real: template === null,
    apiKey: key,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];

/** Headless Debian Chromium; playwright gives each launch a fresh temporary profile. */
export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.MOXIE_CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: CHROMIUM_ARGS,
  });
}

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

/** A page on `server` that records console errors and CSP violations. */
export async function openPage(browser, server, viewport = DESKTOP) {
  const context = await browser.newContext({ viewport, baseURL: server.url });
  if (server.real) {
    // A random-weight model rarely picks its end token, so unbounded replies would fill the
    // context (and the next turn would not fit): start each browser with max tokens 48,
    // unless the test's own settings are already stored.
    await context.addInitScript(() => {
      if (localStorage.getItem("moxie.settings") === null) localStorage.setItem("moxie.settings", JSON.stringify({ max_tokens: 48 }));
    });
  }
  const page = await context.newPage();
  page.problems = [];
  page.on("console", (message) => {
    if (message.type() === "error") page.problems.push(`console: ${message.text()}`);
  });
  page.on("pageerror", (error) => page.problems.push(`page error: ${error.message}`));
  page.on("dialog", (dialog) => {
    page.problems.push(`dialog: ${dialog.message()}`);
    void dialog.dismiss();
  });
  await page.goto("/");
  await page.locator("#model-select option").first().waitFor({ state: "attached" });
  return page;
}

export function screenshotPath(name) {
  mkdirSync(artifactsDir, { recursive: true });
  return join(artifactsDir, name);
}

/** Types a message and presses Enter; returns the chat request the page sent. */
export async function sendMessage(page, text) {
  const request = page.waitForRequest((r) => r.url().endsWith("/v1/chat/completions") && r.method() === "POST");
  await page.locator("#prompt").fill(text);
  await page.locator("#prompt").press("Enter");
  return request;
}

/** Waits until the last reply stopped streaming. */
export async function waitForReplyDone(page, timeout = 60000) {
  await page.locator("article.message.assistant").last().waitFor();
  await page.waitForFunction(() => {
    const last = [...document.querySelectorAll("article.message.assistant")].at(-1);
    return last && last.dataset.streaming === "false";
  }, null, { timeout });
}

/** The `usage` object in a finished SSE response body (the chunk that carries it). */
export function usageFromSse(text) {
  let usage = null;
  for (const line of text.split("\n")) {
    if (!line.startsWith("data: ") || line === "data: [DONE]") continue;
    const chunk = JSON.parse(line.slice(6));
    if (chunk.usage) usage = chunk.usage;
  }
  return usage;
}

/** Serves one scripted SSE reply from the browser side (for servers without [[markers]]). */
export async function routeScriptedReply(page, pieces, model = "scripted") {
  await page.route("**/v1/chat/completions", (route) => {
    const chunks = pieces.map((content) => `data: ${JSON.stringify({ model, choices: [{ index: 0, delta: { content } }] })}\n\n`);
    void route.fulfill({ status: 200, contentType: "text/event-stream", body: chunks.join("") + "data: [DONE]\n\n" });
  }, { times: 1 });
}
