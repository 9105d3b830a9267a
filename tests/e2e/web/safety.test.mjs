// Model output is never executed: a reply carrying <script>, onerror=, javascript:
// links or SVG handlers is shown as text, and the Content-Security-Policy the server
// sends is really in force.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { launchBrowser, openPage, routeScriptedReply, sendMessage, startServer, waitForReplyDone } from "./harness.mjs";

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

const INJECTION = ["Here is HTML: ", "<script>window.__pwned = 1; alert('script ran')</script> ",
  "and <img src=x onerror=\"window.__pwned = 2\"> ", "and [a link](javascript:window.__pwned=3) ",
  "and <a href=\"javascript:alert(1)\">click</a> ", "and <svg onload=\"window.__pwned=4\"></svg> end."];

async function assertInert(page, scope) {
  assert.equal(await page.evaluate(() => window.__pwned), undefined, "no injected code ran");
  const found = await scope.evaluate((root) => ({
    elements: [...root.querySelectorAll("script, img, svg, iframe, object, embed, style")].map((e) => e.tagName),
    handlers: [...root.querySelectorAll("*")].flatMap((e) => [...e.attributes].map((a) => a.name))
      .filter((name) => name.startsWith("on")),
    scriptLinks: [...root.querySelectorAll("[href], [src]")]
      .map((e) => e.getAttribute("href") ?? e.getAttribute("src")).filter((v) => /^\s*javascript:/i.test(v)),
  }));
  assert.deepEqual(found, { elements: [], handlers: [], scriptLinks: [] });
}

test("a reply containing script and HTML injection is shown as text and stays inert", async () => {
  const page = await openPage(browser, server);
  if (!server.scripted) await routeScriptedReply(page, INJECTION);
  await sendMessage(page, "[[inject]] show me some HTML");
  await waitForReplyDone(page);
  const content = page.locator("article.message.assistant").last().locator(".content");
  const text = await content.innerText();
  assert.ok(text.includes("<script>window.__pwned = 1; alert('script ran')</script>"), text);
  assert.ok(text.includes('<img src=x onerror="window.__pwned = 2">'), text);
  assert.ok(text.includes('<svg onload="window.__pwned=4"></svg>'), text);
  await assertInert(page, content);
  for (const link of await content.locator("a").all()) await link.click({ modifiers: ["Control"] }).catch(() => {});
  await page.waitForTimeout(200);
  await assertInert(page, content);
  assert.deepEqual(page.problems, []);
});

test("the user's own HTML is shown as text too", async () => {
  const page = await openPage(browser, server);
  await sendMessage(page, "<img src=x onerror=\"window.__pwned = 5\"> hello");
  await waitForReplyDone(page);
  const mine = page.locator("article.message.user").last().locator(".content");
  assert.equal(await mine.innerText(), "<img src=x onerror=\"window.__pwned = 5\"> hello");
  await assertInert(page, page.locator("#messages"));
});

test("the Content-Security-Policy blocks inline script and foreign connections", async () => {
  const page = await openPage(browser, server);
  const result = await page.evaluate(async () => {
    const violations = [];
    document.addEventListener("securitypolicyviolation", (e) => violations.push(e.violatedDirective));
    const script = document.createElement("script");
    script.textContent = "window.__inline = 1";
    document.body.append(script);
    let foreign = "allowed";
    try {
      await fetch("http://example.invalid/");
    } catch {
      foreign = "blocked";
    }
    await new Promise((r) => setTimeout(r, 100));
    return { inline: window.__inline, violations, foreign };
  });
  page.problems.length = 0; // the violations above are reported on the console on purpose
  assert.equal(result.inline, undefined, "inline script did not run");
  assert.ok(result.violations.includes("script-src-elem"), JSON.stringify(result.violations));
  assert.ok(result.violations.includes("connect-src"), JSON.stringify(result.violations));
  assert.equal(result.foreign, "blocked");
});
