// The chat page (web/), embedded into the binary at build time: web/tools/build.mjs
// bundles it and web/tools/embed.mjs turns the bundle into a generated source in the
// build folder (see docs/web.md). `moxie serve` answers GET/HEAD for these paths with
// serve_web_asset(), which picks the status, headers and body; the route stays thin.
#pragma once

#include <span>
#include <string_view>
#include <vector>

namespace moxie::server {

struct WebHeader {
  std::string_view name;
  std::string_view value;
};

// One embedded file. All views point into static storage.
struct WebAsset {
  std::string_view path;           // URL path: "/" for index.html, "/app-<hash>.js", ...
  std::string_view content_type;   // e.g. "text/html; charset=utf-8"
  std::string_view etag;           // strong validator, quoted: "\"<32 hex of sha256>\""
  std::string_view cache_control;  // "no-cache" or, for content-hashed names, a year, immutable
  std::string_view body;
};

struct WebResponse {
  int status = 404;                // 200, 304, 404 or 405
  std::vector<WebHeader> headers;  // everything but Content-Length (the server's business)
  std::string_view body;           // empty for HEAD, 304 and 405
};

// Every embedded file; empty when the build was configured with -DMOXIE_WEB=OFF.
std::span<const WebAsset> web_assets();

// The file for a request target ("/", "/index.html", "/app-x.js?v=1"), or null.
// The query string and fragment are ignored; matching is exact, so "..", "//" or
// percent-encoded names never reach anything but the fixed table.
const WebAsset* find_web_asset(std::string_view target);

// The Content-Security-Policy header value sent with every page response.
std::string_view web_content_security_policy();

// Headers sent with every response for the page (nosniff, referrer and framing rules).
std::span<const WebHeader> web_security_headers();

// Whether an If-None-Match header value ("*", or a comma-separated list of entity
// tags, weak or strong) matches `etag` under the weak comparison RFC 9110 asks for.
bool etag_matches(std::string_view if_none_match, std::string_view etag);

// The whole response for `method` (GET or HEAD) on `target`: 200 with the file, 304
// when `if_none_match` names its ETag, 404 for unknown paths, 405 for other methods.
WebResponse serve_web_asset(std::string_view method, std::string_view target,
                            std::string_view if_none_match = {});

namespace detail {
// Defined by the generated source (build folder: web/web_assets_data.cc).
std::span<const WebAsset> embedded_web_assets();
std::string_view embedded_content_security_policy();
std::span<const WebHeader> embedded_security_headers();
}  // namespace detail

}  // namespace moxie::server
