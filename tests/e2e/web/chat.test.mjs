// The chat page's everyday paths: a streamed reply, Stop, history after a reload,
// switching model, usage and cost equal to what the server reported, edit/regenerate.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { PHONE, launchBrowser, openPage, sendMessage, startServer, usageFromSse, waitForReplyDone } from "./harness.mjs";

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

const lastReply = (page) => page.locator("article.message.assistant").last();

test("a sent message gets a streamed reply", async () => {
  const page = await openPage(browser, server);
  // While streaming the reply grows in place with a cursor; afterwards it is whole. A page
  // observer records the streaming state as the DOM changes: a short reply from a fast server
  // can stream and finish between two polls of a locator (this test timed out that way in
  // loaded CI runs, waiting for a state that had come and gone).
  await page.evaluate(() => {
    window.sawStreaming = false;
    const check = () => {
      const c = document.querySelector('article.message.assistant[data-streaming="true"] .content');
      if (c && c.getClientRects().length > 0) window.sawStreaming = true;
    };
    new MutationObserver(check).observe(document.body, { subtree: true, childList: true, attributes: true });
  });
  const request = await sendMessage(page, "Hello moxie, how are you?");
  assert.equal(request.postDataJSON().stream, true);
  assert.deepEqual(request.postDataJSON().stream_options, { include_usage: true });
  await waitForReplyDone(page);
  assert.ok(await page.evaluate(() => window.sawStreaming), "the reply was shown streaming before it was whole");
  const text = await lastReply(page).locator(".content").innerText();
  assert.ok(text.trim().length > 0, "the reply is not empty");
  if (server.scripted) assert.match(text, /You said: Hello moxie, how are you\? \(reply from synth-/);
  assert.equal(await page.locator("article.message.user .content").innerText(), "Hello moxie, how are you?");
  assert.deepEqual(page.problems, []);
});

test("Shift+Enter makes a new line and Enter sends", async () => {
  const page = await openPage(browser, server);
  const prompt = page.locator("#prompt");
  await prompt.fill("line one");
  await prompt.press("Shift+Enter");
  await prompt.pressSequentially("line two");
  assert.equal(await prompt.inputValue(), "line one\nline two");
  const request = page.waitForRequest("**/v1/chat/completions");
  await prompt.press("Enter");
  const body = (await request).postDataJSON();
  assert.equal(body.messages.at(-1).content, "line one\nline two");
  await waitForReplyDone(page);
});

test("Stop ends a reply mid-stream", async () => {
  const page = await openPage(browser, server);
  if (!server.scripted) {
    // A synthetic model writes its few hundred tokens in well under a second, faster than
    // anyone can press Stop: the seed fixes a long reply and the browser's download is
    // throttled to about ten SSE chunks a second, so Stop comes mid-stream.
    await page.locator("#open-settings").click();
    await page.locator("#set-seed").fill("1");
    await page.locator("#settings-save").click();
    const cdp = await page.context().newCDPSession(page);
    await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: 3000, uploadThroughput: -1 });
  }
  await sendMessage(page, "[[slow]] Please write a very long story.");
  await page.locator("#stop").waitFor({ state: "visible" });
  await page.waitForFunction(() => {
    const reply = [...document.querySelectorAll("article.message.assistant .content")].at(-1);
    return reply && reply.textContent.length > 40;
  });
  await page.locator("#stop").click();
  await waitForReplyDone(page, 5000);
  assert.ok(await page.locator("#send").isVisible(), "Send is back");
  assert.ok(await page.locator("#stop").isHidden(), "Stop is gone");
  await assert.doesNotReject(lastReply(page).locator(".note", { hasText: "Stopped." }).waitFor({ timeout: 2000 }));
  const frozen = await lastReply(page).locator(".content").innerText();
  await page.waitForTimeout(400);
  assert.equal(await lastReply(page).locator(".content").innerText(), frozen, "nothing arrives after Stop");
  if (server.scripted) assert.ok(!frozen.includes("word399"), "the reply was cut short");
});

test("conversations survive a reload, with rename and delete", async () => {
  const page = await openPage(browser, server);
  await sendMessage(page, "Remember this conversation please");
  await waitForReplyDone(page);
  const replyText = await lastReply(page).locator(".content").innerText();
  await page.reload();
  const item = page.locator("#conversation-list li", { hasText: "Remember this conversation please" });
  await item.waitFor();
  await item.locator(".title").click();
  assert.equal(await lastReply(page).locator(".content").innerText(), replyText);

  await item.locator('[data-action="rename"]').click();
  await page.locator(".rename-box").fill("Renamed chat");
  await page.locator(".rename-box").press("Enter");
  await page.reload();
  const renamed = page.locator("#conversation-list li", { hasText: "Renamed chat" });
  await renamed.waitFor();
  await renamed.locator('[data-action="delete"]').click();
  await renamed.locator('[data-action="delete"]').click();
  await renamed.waitFor({ state: "detached" });
  await page.reload();
  assert.equal(await page.locator("#conversation-list li", { hasText: "Renamed chat" }).count(), 0);
});

test("switching model sends the new model and labels the reply with it", async () => {
  const page = await openPage(browser, server);
  const options = await page.locator("#model-select option").evaluateAll((nodes) => nodes.map((n) => n.value));
  assert.ok(options.length >= 2, `the server offers at least two models (got ${options})`);
  const current = await page.locator("#model-select").inputValue();
  const other = options.find((id) => id !== current);
  await page.locator("#model-select").selectOption(other);
  const request = await sendMessage(page, "Which model are you?");
  assert.equal(request.postDataJSON().model, other);
  await waitForReplyDone(page);
  assert.match(await lastReply(page).locator(".role").innerText(), new RegExp(`· ${other}$`));
  await page.reload();
  await page.locator("#model-select option").first().waitFor({ state: "attached" }); // the list arrives async
  assert.equal(await page.locator("#model-select").inputValue(), other, "the choice is kept");
});

function dollarsFromNanos(nanos) {
  return "$" + (nanos / 1e9).toFixed(9).replace(/\.?0+$/, "");
}

test("token counts and cost shown equal the server's usage", async () => {
  const page = await openPage(browser, server);
  for (const text of ["First question about costs", "A second question, so some prompt is cached"]) {
    const responsePromise = page.waitForResponse("**/v1/chat/completions");
    await sendMessage(page, text);
    const response = await responsePromise;
    await waitForReplyDone(page);
    const usage = usageFromSse(await response.text());
    assert.ok(usage, "the server sent usage (stream_options.include_usage)");
    const figure = (name) => lastReply(page).locator(`[data-figure="${name}"]`).innerText();
    const cached = usage.prompt_tokens_details?.cached_tokens;
    assert.equal(await figure("tokens-in"), `${usage.prompt_tokens} in` + (cached ? ` (${cached} cached)` : ""));
    assert.equal(await figure("tokens-out"), `${usage.completion_tokens} out`);
    if (usage.cost) {
      assert.equal(usage.cost.currency, "USD");
      assert.equal(await figure("cost"), dollarsFromNanos(usage.cost.nanodollars));
    }
    if (usage.completion_tokens >= 2) assert.match(await figure("speed"), /^\d+\.\d tok\/s$/);
  }
  if (server.scripted) {
    // Worked by hand from fake_server.mjs's counting (4 + words and marks per message):
    // prompt 8 + 18 + 13 = 39 with the first two messages (26) cached, 13 pieces out;
    // cost 13 x 140 + 26 x 35 + 13 x 280 = 6370 nano-dollars.
    const figure = (name) => lastReply(page).locator(`[data-figure="${name}"]`).innerText();
    assert.equal(await figure("tokens-in"), "39 in (26 cached)");
    assert.equal(await figure("tokens-out"), "13 out");
    assert.equal(await figure("cost"), "$0.00000637");
  }
});

test("regenerate and edit the last message", async () => {
  const page = await openPage(browser, server);
  await sendMessage(page, "Original question");
  await waitForReplyDone(page);
  const regenerated = page.waitForRequest("**/v1/chat/completions");
  await lastReply(page).locator('[data-action="regenerate"]').click();
  const body = (await regenerated).postDataJSON();
  assert.deepEqual(body.messages.map((m) => m.role), ["user"], "the old reply is not sent back");
  await waitForReplyDone(page);
  assert.equal(await page.locator("article.message.assistant").count(), 1);

  await page.locator("article.message.user").last().locator('[data-action="edit"]').click();
  await page.locator(".edit-box").fill("Edited question");
  const edited = page.waitForRequest("**/v1/chat/completions");
  await page.locator('[data-action="save-edit"]').click();
  assert.equal((await edited).postDataJSON().messages.at(-1).content, "Edited question");
  await waitForReplyDone(page);
  assert.equal(await page.locator("article.message").count(), 2);
  if (server.scripted) assert.match(await lastReply(page).locator(".content").innerText(), /Edited question/);
});

test("reasoning is collapsible and code blocks are highlighted with a copy button", async () => {
  // Needs replies a random-weight model cannot be asked for: always the stand-in.
  const scripted = server.scripted ? server : await startServer({ scripted: true });
  after(() => (scripted === server ? undefined : scripted.stop()));
  const page = await openPage(browser, scripted);
  await sendMessage(page, "[[think]] What is six times seven?");
  await waitForReplyDone(page);
  const reasoning = lastReply(page).locator("details.reasoning");
  assert.equal(await reasoning.getAttribute("open"), null, "closed once the answer is there");
  assert.equal((await lastReply(page).locator(".content").innerText()).trim(), "The answer is 42.");
  await reasoning.locator("summary").click();
  assert.match(await reasoning.locator(".reasoning-body").innerText(), /The user wants a short answer/);

  await sendMessage(page, "[[code]] Show me code");
  await waitForReplyDone(page);
  const block = lastReply(page).locator("pre.code-block");
  assert.equal(await block.getAttribute("data-language"), "python");
  assert.ok(await block.locator("span.hljs-keyword").count() >= 1, "keywords are highlighted");
  await page.context().grantPermissions(["clipboard-read", "clipboard-write"]);
  await block.locator(".copy-code").click();
  await block.locator(".copy-code", { hasText: "Copied" }).waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), "def add(a, b):\n    return a + b\n");
});

test("a conversation exports as JSON with its messages and usage", async () => {
  const page = await openPage(browser, server);
  await sendMessage(page, "Export me");
  await waitForReplyDone(page);
  const item = page.locator("#conversation-list li", { hasText: "Export me" });
  const download = page.waitForEvent("download");
  await item.locator('[data-action="export"]').click();
  const exported = JSON.parse(readFileSync(await (await download).path(), "utf8"));
  assert.equal(exported.title, "Export me");
  assert.deepEqual(exported.messages.map((m) => m.role), ["user", "assistant"]);
  assert.equal(exported.messages[0].content, "Export me");
  assert.ok(exported.messages[1].content.length > 0);
  assert.equal(typeof exported.messages[1].usage.completion_tokens, "number");
});

test("on a phone the conversation list opens from the menu button", async () => {
  const page = await openPage(browser, server, PHONE);
  await sendMessage(page, "Phone chat");
  await waitForReplyDone(page);
  const sidebar = page.locator("#sidebar");
  const offscreen = async () => (await sidebar.boundingBox()).x + (await sidebar.boundingBox()).width <= 0;
  assert.ok(await offscreen(), "hidden to the left at first");
  await page.locator("#open-sidebar").click();
  await page.waitForFunction(() => document.querySelector("#sidebar").getBoundingClientRect().x >= 0);
  await page.locator("#conversation-list li", { hasText: "Phone chat" }).locator(".title").click();
  await page.waitForFunction(() => document.querySelector("#sidebar").getBoundingClientRect().right <= 0);
  assert.equal(await page.locator("article.message.user .content").innerText(), "Phone chat");
});

test("settings: system prompt and sampling go into the request and are kept", async () => {
  const page = await openPage(browser, server);
  await page.locator("#open-settings").click();
  await page.locator("#set-system").fill("You are terse.");
  await page.locator("#set-temperature").fill("0.3");
  await page.locator("#set-max-tokens").fill("64");
  await page.locator("#settings-save").click();
  const body = (await sendMessage(page, "With settings")).postDataJSON();
  assert.deepEqual(body.messages[0], { role: "system", content: "You are terse." });
  assert.equal(body.temperature, 0.3);
  assert.equal(body.max_tokens, 64);
  assert.equal(body.top_p, undefined, "an empty field leaves the server's default");
  await waitForReplyDone(page);
  await page.reload();
  await page.locator("#open-settings").click();
  assert.equal(await page.locator("#set-system").inputValue(), "You are terse.");
  await page.locator("#settings-cancel").click();
});
