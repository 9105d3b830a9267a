#!/usr/bin/env node
// A stand-in for `moxie serve` until it exists: serves the built chat page exactly as
// the embedded table will (same files, content types, ETags, cache and security
// headers, read from the build's manifest.json) and a small OpenAI-compatible API:
//   GET  /v1/models             two models with moxie's `pricing` extension
//   POST /v1/chat/completions   streamed (SSE, include_usage) or whole replies, with
//                               usage.cost in nano-dollars like moxie's metering
// Errors use OpenAI's JSON error shape. Replies are scripted by markers in the last
// user message, so tests can ask for what a real model cannot be told to do:
//   [[slow]] a long slow reply (for Stop)      [[inject]] HTML/script injection
//   [[think]] <think> reasoning then answer   [[code]] a fenced code block
//   [[429]] rate limited (Retry-After: 7)      [[402]] budget exhausted   [[503]] busy
// Anything else gets a short echo of the message.
//
// usage: node fake_server.mjs --assets <dist dir> [--port N] [--api-key KEY]
// Prints "listening on http://127.0.0.1:<port>" once it accepts connections.

import { createServer } from "node:http";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const MODELS = [
  { id: "synth-qwen3moe", pricing: { input_per_million_usd: "0.14", cached_input_per_million_usd: "0.035", output_per_million_usd: "0.28" } },
  { id: "synth-deepseek3", pricing: { input_per_million_usd: "0.27", cached_input_per_million_usd: "0.07", output_per_million_usd: "1.10" } },
];

function option(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 && process.argv[at + 1] !== undefined ? process.argv[at + 1] : fallback;
}

const assetsDir = option("assets", null);
if (!assetsDir) {
  console.error("usage: node fake_server.mjs --assets <dist dir> [--port N] [--api-key KEY]");
  process.exit(2);
}
const apiKey = option("api-key", "");
const manifest = JSON.parse(readFileSync(join(assetsDir, "manifest.json"), "utf8"));
const assets = new Map(manifest.files.map((file) => [file.path, { ...file, body: readFileSync(join(assetsDir, file.file)) }]));

function pageHeaders() {
  return { "Content-Security-Policy": manifest.content_security_policy, ...manifest.security_headers };
}

function serveAsset(request, response) {
  let path = request.url.split(/[?#]/)[0];
  if (path === "/index.html") path = "/";
  const asset = assets.get(path);
  if (!asset) {
    response.writeHead(404, { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store", ...pageHeaders() });
    response.end(request.method === "GET" ? "not found\n" : undefined);
    return;
  }
  const headers = { ETag: asset.etag, "Cache-Control": asset.cache_control, ...pageHeaders() };
  const ifNoneMatch = request.headers["if-none-match"] ?? "";
  const tags = ifNoneMatch.split(",").map((tag) => tag.trim().replace(/^W\//, ""));
  if (tags.includes("*") || tags.includes(asset.etag)) {
    response.writeHead(304, headers);
    response.end();
    return;
  }
  response.writeHead(200, { ...headers, "Content-Type": asset.content_type, "Content-Length": asset.body.length });
  response.end(request.method === "GET" ? asset.body : undefined);
}

function sendError(response, status, type, code, message, extraHeaders = {}) {
  response.writeHead(status, { "Content-Type": "application/json", ...extraHeaders });
  response.end(JSON.stringify({ error: { message, type, param: null, code } }));
}

function authorized(request, response) {
  if (!apiKey || request.headers.authorization === `Bearer ${apiKey}`) return true;
  sendError(response, 401, "invalid_request_error", "invalid_api_key", "Incorrect API key provided.");
  return false;
}

// Deterministic stand-in token counts: one token per word or punctuation mark.
const countTokens = (text) => (text.match(/\w+|[^\s\w]/g) ?? []).length;

function scriptedReply(text, model) {
  if (text.includes("[[slow]]")) {
    return { pieces: Array.from({ length: 400 }, (_, i) => `word${i} `), delayMs: 40 };
  }
  if (text.includes("[[inject]]")) {
    return { pieces: ["Here is HTML: ", "<script>window.__pwned = 1; alert('script ran')</script> ",
      "and <img src=x onerror=\"window.__pwned = 2\"> ", "and [a link](javascript:window.__pwned=3) ",
      "and <a href=\"javascript:alert(1)\">click</a> ", "and <svg onload=\"window.__pwned=4\"></svg> end."], delayMs: 5 };
  }
  if (text.includes("[[think]]")) {
    return { pieces: ["<think>", "\nThe user wants ", "a short answer.", "\n</think>", "\n\nThe answer ", "is 42."], delayMs: 10 };
  }
  if (text.includes("[[code]]")) {
    return { pieces: ["Here:\n\n```python\n", "def add(a, b):\n", "    return a + b\n", "```\n"], delayMs: 5 };
  }
  const words = `You said: ${text.replace(/\s+/g, " ").slice(0, 200)} (reply from ${model})`.split(" ");
  return { pieces: words.map((word, i) => (i === 0 ? word : " " + word)), delayMs: 15 };
}

function usageFor(messages, completionTokens, model) {
  const promptTokens = messages.reduce((sum, m) => sum + 4 + countTokens(String(m.content ?? "")), 0);
  // Pretend every earlier turn is in the prompt cache, as moxie's prefix cache would be.
  const cachedTokens = messages.slice(0, -1).reduce((sum, m) => sum + 4 + countTokens(String(m.content ?? "")), 0);
  const nanosPerToken = (usd) => Math.round(Number(usd) * 1000); // USD per million -> nano-USD per token
  const pricing = MODELS.find((m) => m.id === model).pricing;
  const nanodollars = (promptTokens - cachedTokens) * nanosPerToken(pricing.input_per_million_usd)
    + cachedTokens * nanosPerToken(pricing.cached_input_per_million_usd)
    + completionTokens * nanosPerToken(pricing.output_per_million_usd);
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
    prompt_tokens_details: { cached_tokens: cachedTokens },
    cost: { currency: "USD", nanodollars },
  };
}

function scriptedError(text, response) {
  if (text.includes("[[429]]")) {
    sendError(response, 429, "rate_limit_error", "rate_limit_exceeded",
      "Rate limit reached: 1 request per minute for this key.", { "Retry-After": "7" });
  } else if (text.includes("[[402]]")) {
    sendError(response, 402, "insufficient_quota", "insufficient_quota", "This key's budget of $1.00 is used up.");
  } else if (text.includes("[[503]]")) {
    sendError(response, 503, "server_error", "overloaded", "All slots are busy.", { "Retry-After": "2" });
  } else {
    return false;
  }
  return true;
}

function streamReply(request, response, body, reply, usage) {
  const id = `chatcmpl-${Date.now().toString(36)}`;
  const chunk = (choices, extra = {}) => `data: ${JSON.stringify({ id, object: "chat.completion.chunk",
    created: Math.floor(Date.now() / 1000), model: body.model, choices, ...extra })}\n\n`;
  response.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache", Connection: "keep-alive" });
  response.write(chunk([{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }]));
  let next = 0;
  const timer = setInterval(() => {
    if (next < reply.pieces.length) {
      response.write(chunk([{ index: 0, delta: { content: reply.pieces[next++] }, finish_reason: null }]));
      return;
    }
    clearInterval(timer);
    response.write(chunk([{ index: 0, delta: {}, finish_reason: "stop" }]));
    if (body.stream_options?.include_usage) response.write(chunk([], { usage }));
    response.end("data: [DONE]\n\n");
  }, reply.delayMs);
  request.on("close", () => clearInterval(timer)); // the client pressed Stop
}

function chatCompletions(request, response, body) {
  const model = MODELS.find((m) => m.id === body.model);
  if (!model) {
    sendError(response, 404, "invalid_request_error", "model_not_found", `The model '${body.model}' does not exist.`);
    return;
  }
  const messages = Array.isArray(body.messages) ? body.messages : [];
  const lastUser = [...messages].reverse().find((m) => m.role === "user");
  const text = String(lastUser?.content ?? "");
  if (scriptedError(text, response)) return;
  const reply = scriptedReply(text, model.id);
  const usage = usageFor(messages, reply.pieces.length, model.id);
  if (body.stream) {
    streamReply(request, response, body, reply, usage);
    return;
  }
  response.writeHead(200, { "Content-Type": "application/json" });
  response.end(JSON.stringify({ id: "chatcmpl-whole", object: "chat.completion", model: model.id,
    choices: [{ index: 0, message: { role: "assistant", content: reply.pieces.join("") }, finish_reason: "stop" }], usage }));
}

function readJson(request) {
  return new Promise((resolve, reject) => {
    let text = "";
    request.setEncoding("utf8");
    request.on("data", (part) => { text += part; });
    request.on("end", () => { try { resolve(JSON.parse(text)); } catch (error) { reject(error); } });
  });
}

const server = createServer(async (request, response) => {
  const path = request.url.split("?")[0];
  if (path === "/v1/models" && request.method === "GET") {
    if (!authorized(request, response)) return;
    response.writeHead(200, { "Content-Type": "application/json" });
    response.end(JSON.stringify({ object: "list", data: MODELS.map((m) => ({ object: "model", owned_by: "moxie", ...m })) }));
  } else if (path === "/v1/chat/completions" && request.method === "POST") {
    if (!authorized(request, response)) return;
    let body;
    try {
      body = await readJson(request);
    } catch {
      sendError(response, 400, "invalid_request_error", "invalid_json", "The request body is not valid JSON.");
      return;
    }
    chatCompletions(request, response, body);
  } else if (path.startsWith("/v1/")) {
    sendError(response, 404, "invalid_request_error", "unknown_url", `Unknown endpoint ${path}.`);
  } else if (request.method === "GET" || request.method === "HEAD") {
    serveAsset(request, response);
  } else {
    response.writeHead(405, { Allow: "GET, HEAD", ...pageHeaders() });
    response.end();
  }
});

server.listen(Number(option("port", "0")), "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
