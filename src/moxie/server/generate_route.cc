// POST /v1/chat/completions and /v1/completions: parse, tokenize, check the context,
// authorize, enqueue; then answer at once (non-streaming) or as server-sent events.
#include <chrono>
#include <optional>
#include <random>

#include <nlohmann/json.hpp>

#include "moxie/model/model.h"
#include "moxie/server/client_socket.h"
#include "moxie/server/openai_request.h"
#include "moxie/server/openai_response.h"
#include "moxie/server/server_internal.h"
#include "moxie/tokenizer/tokenizer.h"

namespace moxie::server {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// After this long without a token, a stream gets an SSE comment, so a client that left is
// noticed (the write fails) even while its request is still queued.
constexpr auto kKeepAlive = 1000ms;
// How often a non-streaming request looks whether its client is still connected.
constexpr auto kPeerCheck = 100ms;

std::vector<int32_t> prompt_ids(HttpServer::Served& s, const CompletionRequest& r) {
  if (r.chat) {
    std::lock_guard<std::mutex> lock(s.template_mu);
    return s.model->encode_chat(*r.messages, /*add_generation_prompt=*/true);
  }
  if (!r.prompt_is_tokens) return s.model->encode_text(r.prompt);
  for (int32_t t : r.prompt_tokens)
    if (t >= s.model->tokenizer().n_vocab())
      throw invalid_param("prompt", "holds token id " + std::to_string(t) + ", outside the vocabulary");
  return r.prompt_tokens;
}

GenerationJob make_job(HttpServer::Served& s, const CompletionRequest& r) {
  GenerationJob job;
  job.prompt = prompt_ids(s, r);
  const char* prompt_param = r.chat ? "messages" : "prompt";
  if (job.prompt.empty()) throw invalid_param(prompt_param, "must not be empty");
  const int64_t n_ctx = s.engine->options().n_ctx;
  const int64_t n_prompt = int64_t(job.prompt.size());
  job.max_tokens = r.max_tokens.value_or(n_ctx - n_prompt);
  if (n_prompt >= n_ctx || n_prompt + job.max_tokens > n_ctx)
    throw ApiError(400,
                   "This model's maximum context length is " + std::to_string(n_ctx) + " tokens. However, you requested " +
                       std::to_string(n_prompt + std::max<int64_t>(job.max_tokens, 1)) + " tokens (" +
                       std::to_string(n_prompt) + " in the " + prompt_param + ", " +
                       std::to_string(std::max<int64_t>(job.max_tokens, 1)) +
                       " in the completion). Please reduce the length of the " + prompt_param + " or max_tokens.",
                   r.max_tokens ? "max_tokens" : prompt_param, "context_length_exceeded");
  job.sampling = r.sampling;
  if (!r.seed_given) job.sampling.seed = std::random_device{}() * 0x9E3779B97F4A7C15ull + std::random_device{}();
  job.stop_strings = r.stop;
  job.stop_tokens = s.model->end_tokens();
  return job;
}

// Everything one streaming response keeps between calls of its content provider.
struct StreamState {
  HttpServer::Impl* impl = nullptr;
  RequestGate* gate = nullptr;
  GateRequest gate_request;
  std::shared_ptr<RequestStream> stream;
  const tokenizer::Tokenizer* tok = nullptr;
  ResponseMeta meta;
  bool include_usage = false;
  bool first = true;
  bool ended = false;  // the final event was written
  std::chrono::steady_clock::time_point last_write = std::chrono::steady_clock::now();
};

int status_of(StopCause cause) { return cause == StopCause::cancelled ? 503 : cause == StopCause::error ? 500 : 200; }

// Metrics and metering for the request's end; returns the cost to show in its usage.
std::optional<int64_t> record_end(StreamState& st, int status, const RequestRecord& record) {
  st.ended = true;
  st.impl->metrics.observe_request(st.meta.model, st.meta.chat ? "chat" : "completions", status,
                                   status == 499 ? nullptr : &record);
  return st.gate ? st.gate->settle(st.gate_request, record, status) : std::nullopt;
}

// After cancel(): the engine still ends the request with a final event whose record holds
// the tokens actually computed, which is what a cancelled request is billed.
RequestRecord final_record_after_cancel(RequestStream& stream) {
  StreamEvent ev;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline)
    if (stream.pop(&ev, 100ms) && ev.final) return ev.record;
  return RequestRecord{};
}

std::string render_event(StreamState& st, const StreamEvent& ev, std::optional<int64_t> cost) {
  std::string out;
  if (ev.final && (ev.cause == StopCause::cancelled || ev.cause == StopCause::error)) {
    const ApiError e(status_of(ev.cause), ev.cause == StopCause::error ? "generation failed: " + ev.error
                                                                       : "the server is shutting down; the answer was cut");
    return "data: " + e.to_json() + "\n\ndata: [DONE]\n\n";
  }
  if (!ev.text.empty() || (st.meta.logprobs && !ev.tokens.empty()) || st.first)
    out += sse_event(stream_chunk_json(st.meta, ev.text, st.first, "", ev.tokens, *st.tok, st.include_usage));
  st.first = false;
  if (ev.final) {
    out += sse_event(stream_chunk_json(st.meta, "", false, openai_finish_reason(ev.cause), {}, *st.tok, st.include_usage));
    if (st.include_usage) out += sse_event(stream_usage_json(st.meta, ev.record, cost));
    out += "data: [DONE]\n\n";
  }
  return out;
}

bool provide(StreamState& st, httplib::DataSink& sink) {
  StreamEvent ev;
  if (!st.stream->pop(&ev, 100ms)) {
    if (std::chrono::steady_clock::now() - st.last_write < kKeepAlive) return true;
    st.last_write = std::chrono::steady_clock::now();
    if (sink.write(": keep-alive\n\n", 14)) return true;
    st.stream->cancel();  // the client left: free its slot at the next step
    return false;
  }
  // Settled before the final usage is written, so the usage carries the billed cost.
  const std::optional<int64_t> cost = ev.final ? record_end(st, status_of(ev.cause), ev.record) : std::nullopt;
  const std::string out = render_event(st, ev, cost);
  // An event can render to nothing (a token holding half a UTF-8 character, or text held
  // back by a stop string). Never write zero bytes: cpp-httplib reads that as the end of
  // the body and leaves the chunked loop, cutting the stream without [DONE].
  if (out.empty()) return true;
  st.last_write = std::chrono::steady_clock::now();
  if (!sink.write(out.data(), out.size())) {
    st.stream->cancel();
    return false;
  }
  if (ev.final) sink.done();
  return true;
}

// A whole (non-streaming) answer writes nothing until the end, so the client's socket is
// peeked at every kPeerCheck: a client that left cancels its sequence (freeing the slot at
// the engine's next step) and is billed, as a stream would be, what was computed (499).
void answer_whole(HttpServer::Impl& impl, RequestGate* gate, const GateRequest& g, RequestStream& stream,
                  const ResponseMeta& meta, const tokenizer::Tokenizer& tok, const httplib::Request& req,
                  httplib::Response& res) {
  const int client = find_connection_socket(req.local_addr, req.local_port, req.remote_addr, req.remote_port);
  auto next_check = std::chrono::steady_clock::now() + kPeerCheck;
  bool client_left = false;
  std::string text;
  std::vector<SampledToken> tokens;
  StreamEvent ev;
  while (true) {
    const bool got = stream.pop(&ev, kPeerCheck);
    if (!client_left && client >= 0 && std::chrono::steady_clock::now() >= next_check) {
      next_check = std::chrono::steady_clock::now() + kPeerCheck;
      if (peer_closed(client)) {
        client_left = true;
        stream.cancel();  // the engine still ends it with a final event holding what was computed
      }
    }
    if (!got) continue;
    text += ev.text;
    if (meta.logprobs) tokens.insert(tokens.end(), ev.tokens.begin(), ev.tokens.end());
    if (ev.final) break;
  }
  const int status = client_left ? 499 : status_of(ev.cause);
  impl.metrics.observe_request(meta.model, meta.chat ? "chat" : "completions", status,
                               client_left ? nullptr : &ev.record);
  const std::optional<int64_t> cost = gate ? gate->settle(g, ev.record, status) : std::nullopt;  // before the answer
  if (client_left) {
    res.status = 499;  // nobody reads it
    return;
  }
  if (status != 200) {
    send_error(res, ApiError(status, ev.cause == StopCause::error ? "generation failed: " + ev.error
                                                                  : "the server is shutting down"));
  } else {
    send_json(res, 200,
              dump_json(completion_json(meta, text, openai_finish_reason(ev.cause), tokens, tok, ev.record, cost)));
  }
}

std::string request_id(bool chat, uint64_t n) {
  static const uint64_t boot = uint64_t(std::chrono::system_clock::now().time_since_epoch().count());
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s-%012llx%06llx", chat ? "chatcmpl" : "cmpl", (unsigned long long)(boot & 0xffffffffffffull),
                (unsigned long long)n);
  return buf;
}

}  // namespace

void HttpServer::Impl::handle_generate(const httplib::Request& req, httplib::Response& res, bool chat) {
  const char* endpoint = chat ? "chat" : "completions";
  std::string model_name;
  try {
    const CompletionRequest r = chat ? parse_chat_request(req.body) : parse_completion_request(req.body);
    Served* s = find_model(r.model);
    if (!s) throw ApiError(404, "The model '" + r.model + "' does not exist", "model", "model_not_found");
    model_name = s->alias;
    if (draining) throw ApiError(503, "the server is shutting down", {}, "shutting_down");
    GenerationJob job = make_job(*s, r);
    GateRequest g{req.get_header_value("Authorization"), s->alias, int64_t(job.prompt.size()), job.max_tokens,
                  req.remote_addr, request_id(chat, next_request++)};
    if (owner->gate_) {
      if (std::optional<GateRefusal> refused = owner->gate_->authorize(g)) {
        if (refused->retry_after_s > 0) res.set_header("Retry-After", std::to_string(refused->retry_after_s));
        send_json(res, refused->status, refused->body);
        metrics.observe_request(model_name, endpoint, refused->status, nullptr);
        return;
      }
    }
    std::shared_ptr<RequestStream> stream;
    try {
      stream = s->engine->submit(std::move(job));
    } catch (...) {  // an admitted request the engine refuses still settles its reservation
      if (owner->gate_) owner->gate_->settle(g, RequestRecord{}, 400);
      throw;
    }
    if (!stream) {
      if (owner->gate_) owner->gate_->settle(g, RequestRecord{}, 503);
      res.set_header("Retry-After", "1");
      throw ApiError(503, draining ? "the server is shutting down" : "the server is busy: the request queue is full",
                     {}, "server_busy");
    }
    ResponseMeta meta{chat, g.request_id, s->alias, int64_t(std::time(nullptr)), r.logprobs};
    if (!r.stream) {
      answer_whole(*this, owner->gate_, g, *stream, meta, s->model->tokenizer(), req, res);
      return;
    }
    auto st = std::make_shared<StreamState>();
    *st = StreamState{this, owner->gate_, g, stream, &s->model->tokenizer(), meta, r.include_usage};
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream", [st](size_t, httplib::DataSink& sink) { return provide(*st, sink); },
        [st](bool) {
          if (st->ended) return;
          st->stream->cancel();  // the client closed the connection
          record_end(*st, 499, final_record_after_cancel(*st->stream));
        });
  } catch (const ApiError& e) {
    send_error(res, e);
    metrics.observe_request(model_name, endpoint, e.status(), nullptr);
  } catch (const std::exception& e) {  // tokenizer, chat template, engine checks
    send_error(res, ApiError(400, e.what()));
    metrics.observe_request(model_name, endpoint, 400, nullptr);
  }
}

}  // namespace moxie::server
