// Unit tests of the page's pure logic (SSE parsing, <think> splitting, usage figures,
// error sentences), with vectors worked by hand from the formats' definitions: the SSE
// grammar (WHATWG HTML, "event stream interpretation"), OpenAI's usage object and
// moxie's cost extension. esbuild compiles the TypeScript modules into a temporary
// folder first. Run: node --test web/test (ctest: web_unit).

import assert from "node:assert/strict";
import { build } from "esbuild";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";

const src = join(dirname(fileURLToPath(import.meta.url)), "../src");
const out = mkdtempSync(join(tmpdir(), "moxie-web-unit-"));
let sse, think, usage, api;

before(async () => {
  await build({
    entryPoints: ["sse", "think", "usage", "api"].map((name) => join(src, `${name}.ts`)),
    bundle: true, format: "esm", platform: "neutral", outdir: out, logLevel: "error",
  });
  const load = (name) => import(pathToFileURL(join(out, `${name}.js`)).href);
  [sse, think, usage, api] = await Promise.all(["sse", "think", "usage", "api"].map(load));
});
after(() => rmSync(out, { recursive: true, force: true }));

test("SSE: events split across chunks, CRLF, comments, multi-line data, end of stream", () => {
  const parser = new sse.SseParser();
  assert.deepEqual(parser.push("data: {\"a\""), []);
  assert.deepEqual(parser.push(":1}\n"), []);
  assert.deepEqual(parser.push("\n"), ['{"a":1}']);
  assert.deepEqual(parser.push(": keep-alive comment\r\n\r\ndata:x\r"), []);
  assert.deepEqual(parser.push("\n\r\n"), ["x"]);
  assert.deepEqual(parser.push("event: message\nid: 7\ndata: one\ndata:  two\n\n"), ["one\n two"]);
  assert.deepEqual(parser.push("data: [DONE]"), []);
  assert.deepEqual(parser.finish(), ["[DONE]"]);
  const lone = new sse.SseParser();
  assert.deepEqual(lone.push("data: a\r\rdata: b\n\n"), ["a", "b"]);
});

test("think: open tag, missing open tag, still thinking, none", () => {
  assert.deepEqual(think.splitThink("<think>\nplan\n</think>\n\nanswer"), { reasoning: "plan", answer: "answer", open: false });
  assert.deepEqual(think.splitThink("  <think>half a thought"), { reasoning: "half a thought", answer: "", open: true });
  assert.deepEqual(think.splitThink("prompt opened it</think>answer"), { reasoning: "prompt opened it", answer: "answer", open: false });
  assert.deepEqual(think.splitThink("plain <think> in the middle"), { reasoning: "", answer: "plain <think> in the middle", open: false });
});

test("cost: nano-dollars as exact decimals; estimate from per-million prices", () => {
  assert.equal(usage.formatNanos(12345), "0.000012345");
  assert.equal(usage.formatNanos(1_000_000_000), "1");
  assert.equal(usage.formatNanos(2_500_000_000), "2.5");
  assert.equal(usage.formatNanos(0), "0");
  assert.equal(usage.formatNanos(9_007_199_254_740_991), "9007199.254740991");
  // 1000 uncached x $0.14/M + 500 cached x $0.035/M + 200 out x $0.28/M
  //   = 140000 + 17500 + 56000 = 213500 nano-dollars
  const u = { prompt_tokens: 1500, completion_tokens: 200, prompt_tokens_details: { cached_tokens: 500 } };
  const pricing = { input_per_million_usd: "0.14", cached_input_per_million_usd: "0.035", output_per_million_usd: "0.28" };
  assert.ok(Math.abs(usage.estimateNanodollars(u, pricing) - 213500) < 1e-6);
  assert.equal(usage.estimateNanodollars(u, { input_per_million_usd: "0.14" }), null);
});

test("usage figures: server cost wins over the estimate; speed from the decode time", () => {
  const u = { prompt_tokens: 30, completion_tokens: 11, prompt_tokens_details: { cached_tokens: 14 },
    cost: { currency: "USD", nanodollars: 6370 } };
  const figures = usage.usageFigures(u, { generation_ms: 500 }, { input_per_million_usd: "9", output_per_million_usd: "9" });
  assert.deepEqual(figures.map((f) => [f.name, f.text]), [
    ["tokens-in", "30 in (14 cached)"], ["tokens-out", "11 out"], ["speed", "20.0 tok/s"], ["cost", "$0.00000637"]]);
  const estimated = usage.usageFigures({ prompt_tokens: 1000000, completion_tokens: 0 }, undefined,
    { input_per_million_usd: "0.14", output_per_million_usd: "0.28" });
  assert.deepEqual(estimated.map((f) => f.text), ["1000000 in", "0 out", "≈ $0.14"]);
  const euros = usage.usageFigures({ prompt_tokens: 1, completion_tokens: 1, cost: { currency: "EUR", nanodollars: 5 } });
  assert.equal(euros.at(-1).text, "0.000000005 EUR");
});

test("errors: Retry-After in seconds or as a date, and readable sentences", () => {
  assert.equal(api.parseRetryAfter("7"), 7);
  assert.equal(api.parseRetryAfter("1.2"), 2);
  assert.equal(api.parseRetryAfter(null), null);
  assert.equal(api.parseRetryAfter("soon"), null);
  const inTenSeconds = new Date(Date.now() + 10_000).toUTCString();
  assert.ok([9, 10].includes(api.parseRetryAfter(inTenSeconds)));
  assert.equal(api.describeHttpError(429, "slow down", 7), "Rate limited: too many requests. Try again in 7 s. (slow down)");
  assert.match(api.describeHttpError(402, "", null), /^Budget exhausted/);
  assert.match(api.describeHttpError(401, "", null), /API key/);
  assert.match(api.describeHttpError(503, "", 2), /busy/);
  assert.match(api.describeHttpError(500, "boom", null), /HTTP 500\. \(boom\)$/);
});
