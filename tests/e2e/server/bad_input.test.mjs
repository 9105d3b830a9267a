// Hundreds of malformed requests against a real `moxie serve`: bad JSON, huge numbers,
// wrong types, invalid UTF-8, truncated bodies, broken HTTP and clients that stall in the
// middle of a body. Each well-formed HTTP request must get a 4xx with OpenAI's error JSON
// (never a 5xx); broken HTTP may be answered or dropped; the server must stay up and a
// normal request must still work at the end, also while the stalled clients still hang.

import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { connect } from "node:net";
import { after, before, test } from "node:test";
import { startServer } from "./harness.mjs";

let server;
before(async () => {
  server = await startServer(["--max-body-mib", "1", "--parallel", "2"]);
});
after(async () => {
  assert.equal(await server?.stop(), 0, "moxie serve exits 0 on SIGTERM");
});

/** POSTs raw bytes; resolves { status, body } or { dropped } when the connection closes first. */
function post(path, body, headers = {}) {
  return new Promise((resolve) => {
    const req = httpRequest(`${server.url}${path}`, { method: "POST", agent: false,
      headers: { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body), ...headers } },
    (res) => {
      const parts = [];
      res.on("data", (d) => parts.push(d));
      res.on("end", () => resolve({ status: res.statusCode, body: Buffer.concat(parts).toString("utf8") }));
      res.on("error", () => resolve({ dropped: true }));
    });
    req.on("error", () => resolve({ dropped: true }));
    req.end(body);
  });
}

/** Writes raw bytes on a socket and half-closes; resolves with whatever came back. */
function rawExchange(bytes, { endWrite = true, holdMs = 0 } = {}) {
  return new Promise((resolve) => {
    const socket = connect(server.port, "127.0.0.1");
    const parts = [];
    const finish = () => resolve(Buffer.concat(parts).toString("latin1"));
    socket.on("data", (d) => parts.push(d));
    socket.on("error", finish);
    socket.on("close", finish);
    socket.write(bytes, () => {
      if (holdMs > 0) setTimeout(() => socket.destroy(), holdMs);
      else if (endWrite) socket.end();
    });
    socket.setTimeout(40_000, () => socket.destroy());
  });
}

async function inBatches(items, size, fn) {
  const results = [];
  for (let i = 0; i < items.length; i += size) results.push(...await Promise.all(items.slice(i, i + size).map(fn)));
  return results;
}

function assertClientError(result, what) {
  assert.ok(!result.dropped, `${what}: answered`);
  assert.ok(result.status >= 400 && result.status < 500, `${what}: status ${result.status} ${result.body}`);
  const error = JSON.parse(result.body).error;
  assert.equal(typeof error.message, "string", `${what}: an OpenAI error body`);
  assert.equal(typeof error.type, "string");
  return error;
}

const VALID = JSON.stringify({ model: "tiny", messages: [{ role: "user", content: "Hello there" }], max_tokens: 2 });

function malformedJsonBodies() {
  const bodies = [];
  for (let cut = 1; cut < VALID.length; cut++) bodies.push(VALID.slice(0, cut)); // every truncation
  const junk = ["", "{", "}", "[]", "null", "42", "\"text\"", "{\"messages\":", "{'messages': []}", "{\"a\":1,}",
    "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]} trailing", "\u0000\u0001\u0002", "{\"max_tokens\":NaN}",
    "{\"max_tokens\":Infinity}", "{\"temperature\":-}", "[".repeat(10000) + "]".repeat(10000), "{\"a\":" .repeat(5000)];
  bodies.push(...junk);
  return bodies;
}

function wrongTypeBodies() {
  const fields = { model: [1, true, {}, []], messages: ["hi", 1, {}, [1], [{ role: 1, content: "x" }], [{ role: "user", content: 5 }]],
    max_tokens: ["10", 1.5, true, {}, -5, 1e30, 99999999999999999999], temperature: ["0.5", [], {}, -1, 1e308],
    top_p: ["x", 2, -1], top_k: ["x", -2, 1.5], seed: ["x", 1.5, 1e40], stop: [1, [1, 2], {}, Array(20).fill("s")],
    stream: ["yes", 1, {}], logprobs: ["true", 2], top_logprobs: [-1, 100, "3"], n: [0, 5, "1"],
    presence_penalty: [5, "x"], frequency_penalty: [-5, []], logit_bias: [[], "x", { abc: 1 }, { 1: 500 }],
    stream_options: ["x", 1, { include_usage: "yes" }], response_format: ["json", { type: "json_schema" }] };
  const bodies = [];
  for (const [field, values] of Object.entries(fields)) {
    for (const value of values) {
      const body = { model: "tiny", messages: [{ role: "user", content: "hi" }], max_tokens: 2, [field]: value };
      bodies.push({ field, text: JSON.stringify(body) });
    }
  }
  // Numbers too large for any integer or double, written literally.
  for (const literal of ["1e400", "-1e400", "123456789012345678901234567890", "1" + "0".repeat(400)]) {
    for (const field of ["max_tokens", "temperature", "seed", "top_k"]) {
      bodies.push({ field, literal, text: VALID.replace('"max_tokens":2', `"max_tokens":2,"${field}":${literal}`).replace(`"max_tokens":2,"max_tokens"`, `"max_tokens"`) });
    }
  }
  return bodies;
}

function invalidUtf8Bodies() {
  const sequences = [[0xff], [0xc0, 0x80], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0x80], [0xfe, 0xfe]];
  return sequences.map((seq) => Buffer.concat([Buffer.from('{"model":"tiny","max_tokens":2,"messages":[{"role":"user","content":"a'),
    Buffer.from(seq), Buffer.from('b"}]}')]));
}

test("malformed JSON bodies get 400 with an error body", async () => {
  const bodies = malformedJsonBodies();
  assert.ok(bodies.length > 60);
  for (const path of ["/v1/chat/completions", "/v1/completions"]) {
    const results = await inBatches(bodies, 16, (body) => post(path, body));
    results.forEach((result, i) => {
      const error = assertClientError(result, `${path} ${JSON.stringify(bodies[i].slice(0, 60))}`);
      assert.equal(result.status, 400);
      assert.equal(error.type, "invalid_request_error");
    });
  }
});

test("wrong types, out-of-range and huge numbers get 400 naming the parameter", async () => {
  const bodies = wrongTypeBodies();
  assert.ok(bodies.length > 60);
  const results = await inBatches(bodies, 16, ({ text }) => post("/v1/chat/completions", text));
  results.forEach((result, i) => {
    const { field, text, literal } = bodies[i];
    const error = assertClientError(result, text);
    assert.equal(result.status, 400, text);
    // A number no double can hold fails in the JSON parser itself, before any parameter.
    if (error.param !== null || !literal) {
      assert.ok(typeof error.param === "string" && error.param.startsWith(field), `${text}: param ${error.param} names ${field}`);
    }
  });
});

test("invalid UTF-8 in the body gets 400", async () => {
  for (const body of invalidUtf8Bodies()) {
    const result = await post("/v1/chat/completions", body);
    assert.equal(assertClientError(result, body.toString("hex")) && result.status, 400);
  }
});

test("truncated bodies, broken HTTP and stalled clients never take the server down", async () => {
  const head = (length) => `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`;
  const broken = [];
  for (let cut = 0; cut < VALID.length; cut += 7) broken.push(head(VALID.length) + VALID.slice(0, cut)); // body shorter than declared
  broken.push("GARBAGE\r\n\r\n", "POST /v1/chat/completions HTTP/1.1\r\n\r\n", "POST / HTTP/9.9\r\nHost: x\r\n\r\n",
    head(-5) + VALID, head("abc") + VALID, head(99999999999999) + VALID, head(2 << 20) + "{",
    "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n",
    "GET /v1/models HTTP/1.1\r\n" + "X-Long: " + "a".repeat(200_000) + "\r\n\r\n", "\u0000".repeat(1000));
  const answers = await inBatches(broken, 16, (bytes) => rawExchange(bytes));
  for (const answer of answers) {
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);
    assert.ok(status === 0 || (status >= 400 && status < 500), `broken HTTP answered ${answer.slice(0, 80)}`);
  }
  // Clients that send half a body and then stall hold their connection; others go on.
  const stalled = Array.from({ length: 4 }, () => rawExchange(head(VALID.length) + VALID.slice(0, 20), { holdMs: 3000 }));
  const during = await post("/v1/chat/completions", VALID);
  assert.equal(during.status, 200, `a normal request while clients stall: ${during.body}`);
  await Promise.all(stalled);
  assert.ok(server.alive(), "the server is still running");
});

test("after all that a normal request still works, streamed and whole", async () => {
  const whole = await post("/v1/chat/completions", VALID);
  assert.equal(whole.status, 200, whole.body);
  const reply = JSON.parse(whole.body);
  assert.equal(reply.choices[0].message.role, "assistant");
  assert.ok(reply.usage.completion_tokens <= 2);
  const streamed = await post("/v1/chat/completions", VALID.replace("}]", "}],\"stream\":true"));
  assert.equal(streamed.status, 200);
  assert.ok(streamed.body.trimEnd().endsWith("data: [DONE]"), streamed.body);
  const health = await fetch(`${server.url}/health`);
  assert.equal(health.status, 200);
});
