#!/usr/bin/env node
// Bundles the chat page into --outdir: index.html, app-<hash>.js, app-<hash>.css,
// favicon.svg and manifest.json. The manifest holds, per file, the URL path, content
// type, ETag and Cache-Control, plus the page's Content-Security-Policy and security
// headers: embed.mjs turns it into C++ for `moxie serve`, and the e2e tests' stand-in
// server reads it, so both serve the same bytes with the same headers.
//
// usage: node tools/build.mjs --outdir <dir>

import { build } from "esbuild";
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, extname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const webDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");

// Everything the page needs comes from its own origin; model output can neither run
// script (no inline script, no eval) nor load anything from elsewhere.
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join("; ");

const SECURITY_HEADERS = {
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
  "Cross-Origin-Opener-Policy": "same-origin",
};

const CONTENT_TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".json": "application/json",
};

// Names with a content hash never change meaning, so browsers may keep them for a
// year; the rest (index.html, favicon) are revalidated with their ETag every time.
const IMMUTABLE = "public, max-age=31536000, immutable";
const REVALIDATE = "no-cache";

function parseArgs(argv) {
  const at = argv.indexOf("--outdir");
  if (at < 0 || !argv[at + 1]) throw new Error("usage: node tools/build.mjs --outdir <dir>");
  return { outdir: resolve(argv[at + 1]) };
}

async function bundle(outdir) {
  const result = await build({
    entryPoints: { app: join(webDir, "src/main.ts") },
    bundle: true,
    minify: true,
    format: "esm",
    target: ["es2022", "chrome110", "firefox115", "safari16"],
    outdir,
    entryNames: "[name]",
    metafile: true,
    legalComments: "eof",
    logLevel: "warning",
  });
  const outputs = Object.keys(result.metafile.outputs).map((path) => basename(path));
  // Content-hashed names, from the bytes alone (esbuild's [hash] also depends on the
  // output folder, and every build folder should name the same bytes the same way).
  const hashed = (name) => {
    if (!outputs.includes(name)) throw new Error(`esbuild produced no ${name}`);
    const bytes = readFileSync(join(outdir, name));
    const digest = createHash("sha256").update(bytes).digest("hex").slice(0, 12);
    const renamed = name.replace(/\.(\w+)$/, `-${digest}.$1`);
    renameSync(join(outdir, name), join(outdir, renamed));
    return renamed;
  };
  return { js: hashed("app.js"), css: hashed("app.css") };
}

function manifestEntry(outdir, file, cacheControl) {
  const bytes = readFileSync(join(outdir, file));
  const contentType = CONTENT_TYPES[extname(file)];
  if (!contentType) throw new Error(`no content type known for ${file}`);
  const digest = createHash("sha256").update(bytes).digest("hex");
  return {
    path: file === "index.html" ? "/" : `/${file}`,
    file,
    content_type: contentType,
    etag: `"${digest.slice(0, 32)}"`,
    cache_control: cacheControl,
    bytes: bytes.length,
  };
}

async function main() {
  const { outdir } = parseArgs(process.argv.slice(2));
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  const names = await bundle(outdir);
  const html = readFileSync(join(webDir, "src/index.html"), "utf8")
    .replace("{{app.js}}", names.js)
    .replace("{{app.css}}", names.css);
  if (html.includes("{{")) throw new Error("index.html has a placeholder build.mjs does not fill");
  writeFileSync(join(outdir, "index.html"), html);
  copyFileSync(join(webDir, "src/favicon.svg"), join(outdir, "favicon.svg"));
  const files = [
    manifestEntry(outdir, "index.html", REVALIDATE),
    manifestEntry(outdir, names.js, IMMUTABLE),
    manifestEntry(outdir, names.css, IMMUTABLE),
    manifestEntry(outdir, "favicon.svg", REVALIDATE),
  ];
  const manifest = { content_security_policy: CONTENT_SECURITY_POLICY, security_headers: SECURITY_HEADERS, files };
  writeFileSync(join(outdir, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
  const total = files.reduce((sum, file) => sum + file.bytes, 0);
  console.log(`web: ${files.length} files, ${total} bytes in ${outdir}`);
}

main().catch((error) => {
  console.error(`web build failed: ${error.message}`);
  process.exit(1);
});
