#include "moxie/eval/openai_backend.h"

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "moxie/core/error.h"

namespace moxie::eval {
namespace {

using nlohmann::json;

bool retryable(int status) { return status == 429 || status >= 500; }

int64_t retry_after_ms(const httplib::Result& r) {
  if (!r || !r->has_header("Retry-After")) return -1;
  const std::string v = r->get_header_value("Retry-After");
  char* end = nullptr;
  const long long s = std::strtoll(v.c_str(), &end, 10);
  return (end != v.c_str() && s >= 0) ? std::min<int64_t>(s, 60) * 1000 : -1;
}

std::string snippet(const std::string& body) { return body.size() > 300 ? body.substr(0, 300) + "..." : body; }

}  // namespace

OpenAiBackend::OpenAiBackend(EndpointOptions options) : options_(std::move(options)) {
  std::string url = options_.url;
  while (!url.empty() && url.back() == '/') url.pop_back();
  if (url.size() >= 3 && url.compare(url.size() - 3, 3, "/v1") == 0) url.resize(url.size() - 3);
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos || (url.compare(0, scheme, "http") != 0 && url.compare(0, scheme, "https") != 0) ||
      url.find('/', scheme + 3) != std::string::npos || url.size() == scheme + 3)
    throw Error("endpoint url '" + options_.url + "' must be http(s)://host[:port] with an optional /v1");
  if (options_.concurrency < 1) throw Error("endpoint " + options_.url + ": concurrency must be >= 1");
  base_ = url;
}

ChoiceScores OpenAiBackend::score_choices(const Prompt&, const std::vector<std::string>&) {
  throw Error("endpoint " + options_.url + " cannot score choices (multiple_choice needs a local model)");
}

TextScore OpenAiBackend::score_text(const std::string&) {
  throw Error("endpoint " + options_.url + " cannot score text (perplexity needs a local model)");
}

std::string OpenAiBackend::post_with_retries(const std::string& path, const std::string& body) {
  httplib::Client client(base_);
  client.set_connection_timeout(10, 0);
  client.set_read_timeout(time_t(options_.timeout_s), 0);
  client.set_write_timeout(60, 0);
  if (!options_.api_key.empty()) client.set_bearer_token_auth(options_.api_key);
  std::string last_error;
  for (int attempt = 0;; ++attempt) {
    httplib::Result r = client.Post(path, body, "application/json");
    if (r && r->status == 200) return r->body;
    if (r && !retryable(r->status))
      throw Error("endpoint " + base_ + path + " answered " + std::to_string(r->status) + ": " + snippet(r->body));
    last_error = r ? "status " + std::to_string(r->status) + ": " + snippet(r->body) : httplib::to_string(r.error());
    if (attempt >= options_.max_retries)
      throw Error("endpoint " + base_ + path + " failed after " + std::to_string(attempt + 1) + " tries: " + last_error);
    int64_t wait_ms = retry_after_ms(r);
    if (wait_ms < 0) wait_ms = std::min<int64_t>(options_.backoff_ms << std::min(attempt, 16), 30'000);
    std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
  }
}

Generation OpenAiBackend::generate(const Prompt& prompt, int64_t max_tokens, const std::vector<std::string>& stop) {
  json req{{"model", options_.model}, {"max_tokens", max_tokens}, {"temperature", 0}};
  if (!stop.empty()) req["stop"] = stop;
  if (prompt.chat) {
    json messages = json::array();
    for (const ChatTurn& t : prompt.turns) messages.push_back({{"role", t.role}, {"content", t.content}});
    req["messages"] = messages;
  } else {
    req["prompt"] = prompt.text;
  }
  const std::string path = prompt.chat ? "/v1/chat/completions" : "/v1/completions";
  const std::string body = post_with_retries(path, req.dump());
  Generation g;
  try {
    const json r = json::parse(body);
    const json& choice = r.at("choices").at(0);
    const json& text = prompt.chat ? choice.at("message").at("content") : choice.at("text");
    g.text = text.is_string() ? text.get<std::string>() : std::string();
    const json& usage = r.at("usage");
    g.prompt_tokens = usage.at("prompt_tokens").get<int64_t>();
    g.completion_tokens = usage.at("completion_tokens").get<int64_t>();
    if (usage.contains("cost") && usage["cost"].contains("nanodollars"))
      g.server_cost_nanodollars = usage["cost"]["nanodollars"].get<int64_t>();
  } catch (const json::exception& e) {
    throw Error("endpoint " + base_ + path + ": unexpected answer (" + e.what() + "): " + snippet(body));
  }
  return g;
}

}  // namespace moxie::eval
