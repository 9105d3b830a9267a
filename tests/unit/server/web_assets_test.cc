// The embedded chat page against its oracle: the files web/tools/build.mjs wrote to
// <build>/web/dist and the manifest.json beside them (content types, ETags, cache
// policy, CSP). The bodies must be those files byte for byte, and the response logic
// (200/304/404/405, headers) is checked against RFC 9110's rules worked by hand.

#include "moxie/server/web_assets.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>

namespace moxie::server {
namespace {

const std::filesystem::path kDist = std::filesystem::path(MOXIE_BINARY_DIR) / "web" / "dist";

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

bool page_built() { return std::filesystem::exists(kDist / "manifest.json"); }

std::string_view header(const WebResponse& response, std::string_view name) {
  for (const WebHeader& h : response.headers) {
    if (h.name == name) return h.value;
  }
  return {};
}

TEST(WebAssets, TableMatchesTheBuiltFilesAndManifest) {
  if (!page_built()) {
    // Configured with MOXIE_WEB=OFF: nothing is embedded and / is a 404.
    EXPECT_TRUE(web_assets().empty());
    EXPECT_EQ(serve_web_asset("GET", "/").status, 404);
    return;
  }
  const auto manifest = nlohmann::json::parse(read_file(kDist / "manifest.json"));
  ASSERT_EQ(web_assets().size(), manifest["files"].size());
  std::size_t total_bytes = 0;
  std::set<std::string_view> etags;
  for (const auto& file : manifest["files"]) {
    const std::string path = file["path"];
    const WebAsset* asset = find_web_asset(path);
    ASSERT_NE(asset, nullptr) << path;
    EXPECT_EQ(asset->body, read_file(kDist / file["file"].get<std::string>())) << path;
    EXPECT_EQ(asset->content_type, file["content_type"].get<std::string>()) << path;
    EXPECT_EQ(asset->etag, file["etag"].get<std::string>()) << path;
    EXPECT_EQ(asset->cache_control, file["cache_control"].get<std::string>()) << path;
    EXPECT_TRUE(std::regex_match(std::string(asset->etag), std::regex("\"[0-9a-f]{32}\""))) << asset->etag;
    etags.insert(asset->etag);
    total_bytes += asset->body.size();
  }
  EXPECT_EQ(etags.size(), web_assets().size()) << "every file has its own ETag";
  EXPECT_LT(total_bytes, 1u << 20) << "the page adds under 1 MiB to the binary";
  EXPECT_EQ(web_content_security_policy(), manifest["content_security_policy"].get<std::string>());
}

TEST(WebAssets, IndexReferencesOnlyEmbeddedFilesAndNoInlineCode) {
  if (!page_built()) GTEST_SKIP() << "built with MOXIE_WEB=OFF";
  const WebAsset* index = find_web_asset("/");
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(find_web_asset("/index.html"), index);
  EXPECT_EQ(find_web_asset("/?utm=1"), index);
  EXPECT_EQ(find_web_asset("/index.html#top"), index);
  EXPECT_EQ(index->content_type, "text/html; charset=utf-8");
  EXPECT_EQ(index->cache_control, "no-cache");
  const std::string html(index->body);
  const std::regex reference("(src|href)=\"([^\"]+)\"");
  int references = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), reference); it != std::sregex_iterator(); ++it) {
    const std::string target = (*it)[2];
    ASSERT_NE(find_web_asset(target), nullptr) << "index.html points at a missing file: " << target;
    ++references;
  }
  EXPECT_EQ(references, 3);  // favicon, stylesheet, script
  // The CSP allows no inline script or style, so the page must not need any.
  EXPECT_FALSE(std::regex_search(html, std::regex("<script(?![^>]*\\bsrc=)[^>]*>"))) << "inline <script>";
  EXPECT_EQ(html.find(" style="), std::string::npos);
  EXPECT_FALSE(std::regex_search(html, std::regex("\\son[a-z]+\\s*="))) << "inline event handler";
}

TEST(WebAssets, ContentSecurityPolicyIsStrict) {
  if (!page_built()) GTEST_SKIP() << "built with MOXIE_WEB=OFF";
  const std::string csp(web_content_security_policy());
  for (const char* directive : {"default-src 'none'", "script-src 'self'", "style-src 'self'",
                                "connect-src 'self'", "base-uri 'none'", "frame-ancestors 'none'"}) {
    EXPECT_NE(csp.find(directive), std::string::npos) << directive;
  }
  for (const char* loose : {"unsafe-inline", "unsafe-eval", "*", "http:", "https:"}) {
    EXPECT_EQ(csp.find(loose), std::string::npos) << loose;
  }
}

TEST(WebAssets, GetAndHeadAnswerWithHeaders) {
  if (!page_built()) GTEST_SKIP() << "built with MOXIE_WEB=OFF";
  const WebAsset& script = *std::find_if(web_assets().begin(), web_assets().end(), [](const WebAsset& a) {
    return a.path.ends_with(".js");
  });
  const WebResponse get = serve_web_asset("GET", script.path);
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(get.body, script.body);
  EXPECT_EQ(header(get, "Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(header(get, "ETag"), script.etag);
  EXPECT_EQ(header(get, "Cache-Control"), "public, max-age=31536000, immutable");
  EXPECT_EQ(header(get, "Content-Security-Policy"), web_content_security_policy());
  EXPECT_EQ(header(get, "X-Content-Type-Options"), "nosniff");

  const WebResponse head = serve_web_asset("HEAD", script.path);
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.body.empty());
  EXPECT_EQ(head.headers.size(), get.headers.size());
}

TEST(WebAssets, RevalidationGets304) {
  if (!page_built()) GTEST_SKIP() << "built with MOXIE_WEB=OFF";
  const WebAsset& index = *find_web_asset("/");
  const std::string etag(index.etag);
  for (const std::string& if_none_match : {etag, "W/" + etag, "\"x\", " + etag, "\"x\",\t" + etag + " ", std::string("*")}) {
    const WebResponse response = serve_web_asset("GET", "/", if_none_match);
    EXPECT_EQ(response.status, 304) << if_none_match;
    EXPECT_TRUE(response.body.empty());
    EXPECT_EQ(header(response, "ETag"), index.etag);
    EXPECT_EQ(header(response, "Content-Type"), "");
  }
  for (const std::string& other : {std::string("\"x\""), etag.substr(0, etag.size() - 2) + "\"", std::string(",")}) {
    EXPECT_EQ(serve_web_asset("GET", "/", other).status, 200) << other;
  }
}

TEST(WebAssets, UnknownPathsAndMethods) {
  for (const char* target : {"/nope.js", "/app.js", "/index.html/", "//", "/../index.html", "/%69ndex.html", ""}) {
    const WebResponse response = serve_web_asset("GET", target);
    EXPECT_EQ(response.status, 404) << target;
    EXPECT_EQ(response.body, "not found\n");
    EXPECT_EQ(header(response, "Cache-Control"), "no-store");
  }
  EXPECT_TRUE(serve_web_asset("HEAD", "/nope").body.empty());
  for (const char* method : {"POST", "PUT", "DELETE", "get", "OPTIONS"}) {
    const WebResponse response = serve_web_asset(method, "/");
    EXPECT_EQ(response.status, 405) << method;
    EXPECT_EQ(header(response, "Allow"), "GET, HEAD");
    EXPECT_TRUE(response.body.empty());
  }
}

TEST(WebAssets, EtagMatchingFollowsWeakComparison) {
  EXPECT_TRUE(etag_matches("\"abc\"", "\"abc\""));
  EXPECT_TRUE(etag_matches("W/\"abc\"", "\"abc\""));
  EXPECT_TRUE(etag_matches("\"abc\"", "W/\"abc\""));
  EXPECT_TRUE(etag_matches(" \"x\" , \"abc\" ", "\"abc\""));
  EXPECT_TRUE(etag_matches("*", "\"abc\""));
  EXPECT_FALSE(etag_matches("", "\"abc\""));
  EXPECT_FALSE(etag_matches("\"abcd\"", "\"abc\""));
  EXPECT_FALSE(etag_matches("abc", "\"abc\""));
  EXPECT_FALSE(etag_matches(",,", "\"abc\""));
  EXPECT_FALSE(etag_matches("W/", "\"abc\""));
}

}  // namespace
}  // namespace moxie::server
