#include "moxie/server/web_assets.h"

namespace moxie::server {
namespace {

constexpr std::string_view kNotFoundBody = "not found\n";

std::string_view strip_query_and_fragment(std::string_view target) {
  const auto end = target.find_first_of("?#");
  return end == std::string_view::npos ? target : target.substr(0, end);
}

std::string_view trim_spaces(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// Weak comparison ignores the W/ prefix on either side.
std::string_view opaque_tag(std::string_view tag) {
  if (tag.size() >= 2 && tag[0] == 'W' && tag[1] == '/') tag.remove_prefix(2);
  return tag;
}

void add_common_headers(std::vector<WebHeader>& headers) {
  headers.push_back({"Content-Security-Policy", web_content_security_policy()});
  for (const WebHeader& header : web_security_headers()) headers.push_back(header);
}

}  // namespace

std::span<const WebAsset> web_assets() { return detail::embedded_web_assets(); }

std::string_view web_content_security_policy() { return detail::embedded_content_security_policy(); }

std::span<const WebHeader> web_security_headers() { return detail::embedded_security_headers(); }

const WebAsset* find_web_asset(std::string_view target) {
  std::string_view path = strip_query_and_fragment(target);
  if (path == "/index.html") path = "/";
  for (const WebAsset& asset : web_assets()) {
    if (asset.path == path) return &asset;
  }
  return nullptr;
}

bool etag_matches(std::string_view if_none_match, std::string_view etag) {
  const std::string_view wanted = opaque_tag(etag);
  while (!if_none_match.empty()) {
    const auto comma = if_none_match.find(',');
    const std::string_view item = trim_spaces(if_none_match.substr(0, comma));
    if (item == "*" || (!item.empty() && opaque_tag(item) == wanted)) return true;
    if (comma == std::string_view::npos) break;
    if_none_match.remove_prefix(comma + 1);
  }
  return false;
}

WebResponse serve_web_asset(std::string_view method, std::string_view target,
                            std::string_view if_none_match) {
  WebResponse response;
  if (method != "GET" && method != "HEAD") {
    response.status = 405;
    response.headers.push_back({"Allow", "GET, HEAD"});
    add_common_headers(response.headers);
    return response;
  }
  const WebAsset* asset = find_web_asset(target);
  if (asset == nullptr) {
    response.status = 404;
    response.headers.push_back({"Content-Type", "text/plain; charset=utf-8"});
    response.headers.push_back({"Cache-Control", "no-store"});
    add_common_headers(response.headers);
    if (method == "GET") response.body = kNotFoundBody;
    return response;
  }
  response.headers.push_back({"ETag", asset->etag});
  response.headers.push_back({"Cache-Control", asset->cache_control});
  add_common_headers(response.headers);
  if (!if_none_match.empty() && etag_matches(if_none_match, asset->etag)) {
    response.status = 304;
    return response;
  }
  response.status = 200;
  response.headers.push_back({"Content-Type", asset->content_type});
  if (method == "GET") response.body = asset->body;
  return response;
}

}  // namespace moxie::server
