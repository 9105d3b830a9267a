// How the page itself is served and looks: content types, cache headers, ETags that
// are the files' SHA-256, 304 revalidation, the CSP header, the size budget (< 1 MB),
// load time from a local server (< 1 s), and screenshots at desktop and phone width
// (written to the artifacts folder; docs/images/ gets the desktop one on request).

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { DESKTOP, PHONE, launchBrowser, openPage, repoRoot, screenshotPath, sendMessage, startServer,
  waitForReplyDone } from "./harness.mjs";

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

async function pageFiles() {
  const index = await fetch(`${server.url}/`);
  const html = await index.text();
  const referenced = [...html.matchAll(/(?:src|href)="(\/[^"]+)"/g)].map((m) => m[1]);
  return { index, html, paths: ["/", ...referenced] };
}

test("every file has its content type, cache policy, ETag and security headers", async () => {
  const { paths } = await pageFiles();
  const expectedType = { html: "text/html", js: "text/javascript", css: "text/css", svg: "image/svg+xml" };
  let total = 0;
  for (const path of paths) {
    const response = await fetch(`${server.url}${path}`);
    assert.equal(response.status, 200, path);
    const body = Buffer.from(await response.arrayBuffer());
    total += body.length;
    const extension = path === "/" ? "html" : path.split(".").pop();
    assert.ok(response.headers.get("content-type").startsWith(expectedType[extension]), `${path}: content type`);
    const digest = createHash("sha256").update(body).digest("hex");
    assert.equal(response.headers.get("etag"), `"${digest.slice(0, 32)}"`, `${path}: ETag is the body's sha256`);
    const hashedName = /-[0-9a-f]{12}\.(js|css)$/.test(path);
    if (hashedName) {
      assert.ok(path.includes(digest.slice(0, 12)), `${path}: name carries the content hash`);
      assert.equal(response.headers.get("cache-control"), "public, max-age=31536000, immutable");
    } else {
      assert.equal(response.headers.get("cache-control"), "no-cache", path);
    }
    const csp = response.headers.get("content-security-policy") ?? "";
    assert.match(csp, /default-src 'none'/, path);
    assert.match(csp, /script-src 'self'(;|$)/, path);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/, path);
    assert.equal(response.headers.get("x-content-type-options"), "nosniff", path);
  }
  assert.ok(total < 1024 * 1024, `the page's files add ${total} bytes (< 1 MiB)`);
  console.log(`page files: ${paths.length}, ${total} bytes`);
});

test("a matching If-None-Match gets 304 and unknown paths 404", async () => {
  const first = await fetch(`${server.url}/`);
  const etag = first.headers.get("etag");
  const again = await fetch(`${server.url}/`, { headers: { "If-None-Match": `W/"other", ${etag}` } });
  assert.equal(again.status, 304);
  assert.equal((await again.arrayBuffer()).byteLength, 0);
  const changed = await fetch(`${server.url}/`, { headers: { "If-None-Match": '"not-the-etag"' } });
  assert.equal(changed.status, 200);
  for (const path of ["/nope.js", "/app.js", "/index.html/", "/%69ndex.html"]) {
    assert.equal((await fetch(`${server.url}${path}`)).status, 404, path);
  }
});

// The load time is printed, not asserted: the machine is shared and a timed test would
// fail under load (speed belongs in benchmarks).
test("the page loads and lists the models from a local server", async () => {
  const context = await browser.newContext({ viewport: DESKTOP });
  const page = await context.newPage();
  const started = Date.now();
  await page.goto(`${server.url}/`, { waitUntil: "load" });
  await page.locator("#model-select option").first().waitFor({ state: "attached" });
  const elapsedMs = Date.now() - started;
  const navigation = await page.evaluate(() => performance.getEntriesByType("navigation")[0].toJSON());
  console.log(`page ready (models listed) in ${elapsedMs} ms; load event at ${navigation.loadEventEnd.toFixed(0)} ms`);
  assert.ok(navigation.loadEventEnd > 0, "the load event fired");
  await context.close();
});

async function fillConversation(page) {
  await sendMessage(page, "What is a mixture-of-experts model, in two sentences?");
  await waitForReplyDone(page);
  if (server.scripted) {
    await sendMessage(page, "[[code]] And a tiny Python example?");
    await waitForReplyDone(page);
    await sendMessage(page, "[[think]] Is 42 the answer?");
    await waitForReplyDone(page);
  }
}

for (const [name, viewport] of [["desktop", DESKTOP], ["phone", PHONE]]) {
  for (const theme of ["light", "dark"]) {
    test(`screenshot at ${name} width, ${theme} theme`, async () => {
      const page = await openPage(browser, server, viewport);
      if ((await page.evaluate(() => document.documentElement.dataset.theme)) !== theme) {
        await page.locator("#theme-toggle").click();
      }
      assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), theme);
      await fillConversation(page);
      // Nothing may stick out sideways on a phone: the page must not scroll horizontally.
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `${overflow} px wider than the screen`);
      const file = screenshotPath(`chat-${name}-${theme}.png`);
      await page.screenshot({ path: file });
      if (process.env.MOXIE_WEB_README_SCREENSHOT && name === "desktop" && theme === "light") {
        mkdirSync(join(repoRoot, "docs/images"), { recursive: true });
        copyFileSync(file, join(repoRoot, "docs/images/web-chat.png"));
      }
      assert.deepEqual(page.problems, []);
      await page.context().close();
    });
  }
}
