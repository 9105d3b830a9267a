// Errors are readable sentences: rate limits (429 with Retry-After), an exhausted
// budget (402), a busy server (503), a server that is gone; and the API-key box
// appears when the server requires a key.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { TEST_API_KEY, launchBrowser, openPage, sendMessage, startServer, waitForReplyDone } from "./harness.mjs";

let server;
let browser;
before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

const errorText = (page) => page.locator("article.message.assistant").last().locator(".message-error").innerText();

async function routeError(page, status, message, headers = {}) {
  await page.route("**/v1/chat/completions", (route) => route.fulfill({
    status, headers: { "Content-Type": "application/json", ...headers },
    body: JSON.stringify({ error: { message, type: "error", code: String(status) } }),
  }), { times: 1 });
}

test("a 429 from the server is shown as a readable message with the wait", async () => {
  if (!server.real) {
    const page = await openPage(browser, server);
    if (!server.scripted) await routeError(page, 429, "Rate limit reached.", { "Retry-After": "7" });
    await sendMessage(page, "[[429]] hello");
    await waitForReplyDone(page);
    const text = await errorText(page);
    assert.match(text, /^Rate limited: too many requests\. Try again in 7 s\./);
    if (server.scripted) assert.match(text, /Rate limit reached: 1 request per minute for this key\./);
    assert.ok(await page.locator("#send").isVisible(), "the page is usable again");
    return;
  }
  // The real limiter: a free tier of one request a minute; the second message is refused.
  const limited = await startServer({ extraArgs: ["--auth", "optional", "--free-rpm", "1"] });
  try {
    const page = await openPage(browser, limited);
    await sendMessage(page, "first message");
    await waitForReplyDone(page);
    const refused = page.waitForResponse("**/v1/chat/completions");
    await sendMessage(page, "second message");
    const response = await refused;
    await waitForReplyDone(page);
    assert.equal(response.status(), 429);
    const wait = Number(response.headers()["retry-after"]);
    assert.ok(wait >= 1 && wait <= 60, `Retry-After ${wait}`);
    assert.match(await errorText(page), new RegExp(`^Rate limited: too many requests\\. Try again in ${wait} s\\.`));
    assert.ok(await page.locator("#send").isVisible(), "the page is usable again");
  } finally {
    await limited.stop();
  }
});

test("402 and 503 read as budget exhausted and busy", async () => {
  const page = await openPage(browser, server);
  if (!server.scripted) await routeError(page, 402, "Budget used up.");
  await sendMessage(page, "[[402]] hello");
  await waitForReplyDone(page);
  assert.match(await errorText(page), /^Budget exhausted: this key has no credit left\./);
  if (!server.scripted) await routeError(page, 503, "Busy.");
  await sendMessage(page, "[[503]] hello");
  await waitForReplyDone(page);
  assert.match(await errorText(page), /^The server is busy or not ready \(503\)\./);
});

test("a server that went away is reported as unreachable", async () => {
  const own = await startServer();
  const page = await openPage(browser, own);
  await own.stop();
  await sendMessage(page, "anyone there?");
  await waitForReplyDone(page);
  assert.match(await errorText(page), /^Cannot reach the server/);
});

test("a free server shows the free tier; a keyed one asks for the key", async () => {
  const free = await openPage(browser, server);
  assert.equal(await free.locator("#access-badge").innerText(), "Free tier");
  assert.ok(await free.locator("#key-prompt").isHidden());

  const keyed = await startServer({ apiKey: TEST_API_KEY });
  // Both servers answer GET /v1/models with 401 without a key, so the page asks for the
  // key before the first message.
  try {
    const page = await browser.newPage({ baseURL: keyed.url });
    await page.goto("/");
    await page.locator("#key-prompt").waitFor({ state: "visible" });
    await page.locator("#key-input").fill("sk-wrong");
    await page.locator("#key-input").press("Enter");
    await page.waitForTimeout(300);
    assert.ok(await page.locator("#key-prompt").isVisible(), "a wrong key is refused");
    await page.locator("#key-input").fill(keyed.apiKey);
    await page.locator("#key-input").press("Enter");
    await page.locator("#model-select option").first().waitFor({ state: "attached" });
    assert.ok(await page.locator("#key-prompt").isHidden());
    assert.equal(await page.locator("#access-badge").innerText(), "API key");
    const request = await sendMessage(page, "hello with a key");
    assert.equal(request.headers().authorization, `Bearer ${keyed.apiKey}`);
    await waitForReplyDone(page);
    assert.equal(await page.locator("article.message.assistant .message-error").count(), 0);
    await page.reload();
    await page.locator("#model-select option").first().waitFor({ state: "attached" });
    assert.ok(await page.locator("#key-prompt").isHidden(), "the key is kept in the browser");
  } finally {
    await keyed.stop();
  }
});
