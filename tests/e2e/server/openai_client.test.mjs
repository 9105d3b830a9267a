// `moxie serve` driven by the official `openai` npm client (pinned in package.json):
// what a real application sees. The model is synthetic (random weights, real tokenizer),
// so the text is gibberish; what is checked is the API's shape and its invariants.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import OpenAI from "openai";
import { startServer } from "./harness.mjs";

let server;
let client;
before(async () => {
  server = await startServer(["--max-body-mib", "1", "--parallel", "4"]);
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "none", maxRetries: 0, timeout: 120_000 });
});
after(async () => {
  assert.equal(await server?.stop(), 0, "moxie serve exits 0 on SIGTERM");
});

const hello = [{ role: "user", content: "Hello, who are you?" }];

function assertUsage(usage, { maxCompletion } = {}) {
  assert.ok(Number.isInteger(usage.prompt_tokens) && usage.prompt_tokens > 0, `prompt_tokens ${usage.prompt_tokens}`);
  assert.ok(Number.isInteger(usage.completion_tokens) && usage.completion_tokens >= 0);
  assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);
  const cached = usage.prompt_tokens_details?.cached_tokens;
  assert.ok(Number.isInteger(cached) && cached >= 0 && cached < usage.prompt_tokens, `cached_tokens ${cached}`);
  if (maxCompletion !== undefined) assert.ok(usage.completion_tokens <= maxCompletion);
}

test("models.list names the served model", async () => {
  const ids = [];
  for await (const model of client.models.list()) {
    assert.equal(model.object, "model");
    assert.equal(model.owned_by, "moxie");
    assert.ok(Number.isInteger(model.created));
    ids.push(model.id);
  }
  assert.deepEqual(ids, ["tiny"]);
  const one = await client.models.retrieve("tiny").catch((e) => e);
  // GET /v1/models/{id} is optional in moxie; when present it must describe the model.
  if (!(one instanceof OpenAI.NotFoundError)) assert.equal(one.id, "tiny");
});

test("a non-streaming chat completion has OpenAI's shape and usage", async () => {
  const reply = await client.chat.completions.create({ model: "tiny", messages: hello, max_tokens: 8, seed: 7 });
  assert.equal(reply.object, "chat.completion");
  assert.match(reply.id, /^chatcmpl-/);
  assert.equal(reply.model, "tiny");
  assert.equal(reply.choices.length, 1);
  const [choice] = reply.choices;
  assert.equal(choice.index, 0);
  assert.equal(choice.message.role, "assistant");
  assert.equal(typeof choice.message.content, "string");
  assert.ok(["stop", "length"].includes(choice.finish_reason));
  assertUsage(reply.usage, { maxCompletion: 8 });
  if (choice.finish_reason === "length") assert.equal(reply.usage.completion_tokens, 8);
});

test("streaming with include_usage: deltas, one finish_reason, usage last; equals the whole reply", async () => {
  const params = { model: "tiny", messages: hello, max_tokens: 12, seed: 11, temperature: 0.8 };
  const whole = await client.chat.completions.create(params);
  const stream = await client.chat.completions.create({ ...params, stream: true, stream_options: { include_usage: true } });
  let text = "";
  let role = null;
  const finishReasons = [];
  let usage = null;
  let afterUsage = 0;
  for await (const chunk of stream) {
    assert.equal(chunk.object, "chat.completion.chunk");
    if (usage) afterUsage++;
    if (chunk.usage) {
      assert.deepEqual(chunk.choices, [], "the usage chunk has no choices");
      usage = chunk.usage;
      continue;
    }
    const [choice] = chunk.choices;
    if (choice.delta.role) role = choice.delta.role;
    text += choice.delta.content ?? "";
    if (choice.finish_reason) finishReasons.push(choice.finish_reason);
  }
  assert.equal(role, "assistant");
  assert.deepEqual(finishReasons, [whole.choices[0].finish_reason]);
  assert.equal(afterUsage, 0, "usage is the last chunk");
  assert.equal(text, whole.choices[0].message.content, "streaming equals non-streaming for the same seed");
  assertUsage(usage, { maxCompletion: 12 });
  assert.equal(usage.completion_tokens, whole.usage.completion_tokens);
  assert.equal(usage.prompt_tokens, whole.usage.prompt_tokens);
});

test("completions, whole and streamed", async () => {
  const params = { model: "tiny", prompt: "The capital of France is", max_tokens: 6, seed: 3 };
  const whole = await client.completions.create(params);
  assert.equal(whole.object, "text_completion");
  assert.equal(typeof whole.choices[0].text, "string");
  assert.ok(["stop", "length"].includes(whole.choices[0].finish_reason));
  assertUsage(whole.usage, { maxCompletion: 6 });
  let text = "";
  let usage = null;
  for await (const chunk of await client.completions.create({ ...params, stream: true, stream_options: { include_usage: true } })) {
    if (chunk.usage) usage = chunk.usage;
    text += chunk.choices[0]?.text ?? "";
  }
  assert.equal(text, whole.choices[0].text);
  assert.equal(usage.completion_tokens, whole.usage.completion_tokens);
});

test("the same long system prompt twice: the second request reports cached prompt tokens", async () => {
  const system = "You are a careful assistant. " + Array.from({ length: 8 }, (_, i) => `Rule ${i}: answer briefly.`).join(" ");
  const ask = (question) => client.chat.completions.create({
    model: "tiny", max_tokens: 2, messages: [{ role: "system", content: system }, { role: "user", content: question }] });
  const first = await ask("What is the first question?");
  const second = await ask("And now a different second question?");
  assertUsage(first.usage);
  assertUsage(second.usage);
  assert.ok(first.usage.prompt_tokens > 80, `a long system prompt (${first.usage.prompt_tokens} tokens)`);
  const cached = second.usage.prompt_tokens_details.cached_tokens;
  assert.ok(cached > 80, `the shared system prompt is reused: ${cached} of ${second.usage.prompt_tokens} cached`);
});

test("logprobs and top_logprobs: one entry per token, sorted, greedy picks the top one", async () => {
  const reply = await client.chat.completions.create({
    model: "tiny", messages: hello, max_tokens: 6, temperature: 0, logprobs: true, top_logprobs: 3 });
  const entries = reply.choices[0].logprobs.content;
  assert.equal(entries.length, reply.usage.completion_tokens);
  const bytes = [];
  for (const entry of entries) {
    assert.equal(typeof entry.token, "string");
    assert.ok(entry.logprob <= 0);
    assert.equal(entry.top_logprobs.length, 3);
    const tops = entry.top_logprobs.map((t) => t.logprob);
    assert.deepEqual([...tops].sort((a, b) => b - a), tops, "top_logprobs are sorted, most likely first");
    assert.ok(tops.reduce((sum, lp) => sum + Math.exp(lp), 0) <= 1 + 1e-6, "probabilities sum to at most 1");
    assert.equal(entry.logprob, tops[0], "temperature 0 samples the most likely token");
    assert.deepEqual(entry.bytes, entry.top_logprobs[0].bytes);
    bytes.push(...entry.bytes);
  }
  let decoded = null;
  try {
    decoded = new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.from(bytes));
  } catch {
    // random weights can pick tokens that are half a character; then only the count is checked
  }
  if (decoded !== null && reply.choices[0].finish_reason === "length") assert.equal(decoded, reply.choices[0].message.content);
});

test("completions logprobs: token_logprobs and top_logprobs per token", async () => {
  const reply = await client.completions.create({ model: "tiny", prompt: "Once upon a time", max_tokens: 4, temperature: 0, logprobs: 2 });
  const lp = reply.choices[0].logprobs;
  assert.equal(lp.tokens.length, reply.usage.completion_tokens);
  assert.equal(lp.token_logprobs.length, lp.tokens.length);
  assert.equal(lp.top_logprobs.length, lp.tokens.length);
  lp.top_logprobs.forEach((top, i) => {
    assert.equal(Object.keys(top).length, 2);
    assert.equal(lp.token_logprobs[i], Math.max(...Object.values(top)), "greedy: the chosen token is the top one");
  });
});

test("a stop sequence cuts the text before it, with finish_reason stop", async () => {
  const base = { model: "tiny", messages: hello, max_tokens: 24, temperature: 0 };
  const free = (await client.chat.completions.create(base)).choices[0].message.content;
  // A stop string taken from the middle of the free-running text, not containing U+FFFD
  // (the replacement of half characters) so that it is matched as written.
  const chars = [...free];
  let stop = null;
  for (let at = Math.floor(chars.length / 2); at < chars.length - 1 && !stop; at++) {
    const candidate = chars.slice(at, at + 2).join("");
    if (!candidate.includes("\uFFFD") && free.indexOf(candidate) > 0) stop = candidate;
  }
  assert.ok(stop, `a usable stop string in ${JSON.stringify(free)}`);
  const cut = await client.chat.completions.create({ ...base, stop: [stop, "never-appears-xyz"] });
  assert.equal(cut.choices[0].message.content, free.slice(0, free.indexOf(stop)));
  assert.equal(cut.choices[0].finish_reason, "stop");
  assert.ok(cut.usage.completion_tokens < 24);
  let streamed = "";
  for await (const chunk of await client.chat.completions.create({ ...base, stop, stream: true })) {
    streamed += chunk.choices[0]?.delta?.content ?? "";
  }
  assert.equal(streamed, cut.choices[0].message.content, "the stop string never leaks into the stream");
});

test("max_tokens reached gives finish_reason length", async () => {
  for (const max_tokens of [1, 3]) {
    const reply = await client.chat.completions.create({ model: "tiny", messages: hello, max_tokens, temperature: 0 });
    assert.equal(reply.choices[0].finish_reason, "length");
    assert.equal(reply.usage.completion_tokens, max_tokens);
  }
  const viaNewName = await client.chat.completions.create({ model: "tiny", messages: hello, max_completion_tokens: 2, temperature: 0 });
  assert.equal(viaNewName.usage.completion_tokens, 2);
});

test("seeded sampling is deterministic; different seeds give different text", async () => {
  const ask = (seed) => client.chat.completions.create({ model: "tiny", messages: hello, max_tokens: 16, temperature: 1, seed })
    .then((r) => r.choices[0].message.content);
  const a = await ask(1234);
  assert.equal(await ask(1234), a);
  const others = await Promise.all([1, 2, 3].map(ask));
  assert.ok(others.some((text) => text !== a), "the seed changes the sample");
});

async function expectError(promise, { cls, status, type, param, code }) {
  const error = await promise.then(() => null, (e) => e);
  assert.ok(error instanceof OpenAI.APIError, `an APIError, got ${error}`);
  if (cls) assert.ok(error instanceof cls, `${cls.name}, got ${error.constructor.name}`);
  assert.equal(error.status, status);
  if (type) assert.equal(error.type, type);
  if (param !== undefined) assert.ok(error.param === param || /^[[.]/.test(error.param?.slice(param.length) ?? "") && error.param.startsWith(param),
    `param ${error.param} names ${param}`);
  if (code) assert.equal(error.code, code);
  assert.equal(typeof error.error?.message, "string");
  assert.ok(error.error.message.length > 0);
  return error;
}

test("400 errors name the bad parameter", async () => {
  const bad = (extra, param) => expectError(client.chat.completions.create({ model: "tiny", messages: hello, max_tokens: 2, ...extra }),
    { cls: OpenAI.BadRequestError, status: 400, type: "invalid_request_error", param });
  await bad({ temperature: "hot" }, "temperature");
  await bad({ temperature: 3 }, "temperature");
  await bad({ top_p: -0.5 }, "top_p");
  await bad({ max_tokens: -1 }, "max_tokens");
  await bad({ top_logprobs: 50, logprobs: true }, "top_logprobs");
  await bad({ n: 2 }, "n");
  await bad({ stop: 5 }, "stop");
  await bad({ messages: [] }, "messages");
  await bad({ messages: [{ role: "wizard", content: "hi" }] }, "messages");
  await bad({ response_format: { type: "json_schema" } }, "response_format");
  await expectError(client.chat.completions.create({ model: "tiny", messages: hello, max_tokens: 100000 }),
    { cls: OpenAI.BadRequestError, status: 400, param: "max_tokens", code: "context_length_exceeded" });
  await expectError(client.completions.create({ model: "tiny", prompt: "x", logprobs: 9 }),
    { cls: OpenAI.BadRequestError, status: 400, param: "logprobs" });
});

test("404 for an unknown model, 413 for a body over --max-body-mib", async () => {
  await expectError(client.chat.completions.create({ model: "no-such-model", messages: hello }),
    { cls: OpenAI.NotFoundError, status: 404, param: "model", code: "model_not_found" });
  await expectError(client.completions.create({ model: "no-such-model", prompt: "x" }),
    { cls: OpenAI.NotFoundError, status: 404, param: "model" });
  const huge = "a".repeat(2 << 20); // 2 MiB > --max-body-mib 1
  await expectError(client.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: huge }] }),
    { status: 413, type: "invalid_request_error", code: "request_too_large" });
  // The server is still fine afterwards.
  const reply = await client.chat.completions.create({ model: "tiny", messages: hello, max_tokens: 2 });
  assert.equal(reply.usage.completion_tokens <= 2, true);
});

test("concurrent streams all complete with their own usage", async () => {
  const one = async (i) => {
    let text = "";
    let usage = null;
    const stream = await client.chat.completions.create({ model: "tiny", max_tokens: 10, seed: i, stream: true,
      stream_options: { include_usage: true }, messages: [{ role: "user", content: `Stream number ${i}` }] });
    for await (const chunk of stream) {
      if (chunk.usage) usage = chunk.usage;
      text += chunk.choices[0]?.delta?.content ?? "";
    }
    const whole = await client.chat.completions.create({ model: "tiny", max_tokens: 10, seed: i,
      messages: [{ role: "user", content: `Stream number ${i}` }] });
    assert.equal(text, whole.choices[0].message.content, `stream ${i} equals its non-streaming twin`);
    assertUsage(usage, { maxCompletion: 10 });
  };
  await Promise.all(Array.from({ length: 8 }, (_, i) => one(i)));
});
