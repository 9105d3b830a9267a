// Request parsing: every bad field is a 400 naming the parameter; good requests keep their values.
#include "moxie/server/openai_request.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "moxie/server/api_error.h"

namespace moxie::server {
namespace {

const std::string kMsgs = R"("messages":[{"role":"user","content":"hi"}])";

ApiError chat_error(const std::string& body) {
  try {
    parse_chat_request(body);
  } catch (const ApiError& e) {
    return e;
  }
  ADD_FAILURE() << "accepted: " << body;
  return ApiError(0, "");
}

TEST(OpenAiRequest, ParsesChatParameters) {
  const CompletionRequest r = parse_chat_request(
      "{" + kMsgs + R"(,"model":"m","temperature":0.5,"top_p":0.9,"top_k":7,"min_p":0.1,"seed":42,
      "presence_penalty":1,"frequency_penalty":-1,"stop":["a","b"],"max_completion_tokens":9,"stream":true,
      "stream_options":{"include_usage":true},"logprobs":true,"top_logprobs":3,"logit_bias":{"5":-100},"n":1})");
  EXPECT_EQ(r.model, "m");
  EXPECT_FLOAT_EQ(r.sampling.temperature, 0.5f);
  EXPECT_FLOAT_EQ(r.sampling.top_p, 0.9f);
  EXPECT_EQ(r.sampling.top_k, 7);
  EXPECT_EQ(r.sampling.seed, 42u);
  EXPECT_TRUE(r.seed_given);
  EXPECT_EQ(r.stop, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(r.max_tokens, 9);
  EXPECT_TRUE(r.stream && r.include_usage && r.logprobs);
  EXPECT_EQ(r.sampling.n_top_logprobs, 3);
  ASSERT_EQ(r.sampling.logit_bias.size(), 1u);
  EXPECT_EQ(r.sampling.logit_bias[0].first, 5);
  EXPECT_EQ((*r.messages)[0]["content"], "hi");
}

TEST(OpenAiRequest, FlattensTextPartsAndMapsDeveloperRole) {
  const CompletionRequest r = parse_chat_request(
      R"({"messages":[{"role":"developer","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},
          {"role":"assistant","content":null,"tool_calls":[]},{"role":"tool","content":"x","tool_call_id":"1"}]})");
  EXPECT_EQ((*r.messages)[0]["role"], "system");
  EXPECT_EQ((*r.messages)[0]["content"], "ab");
  EXPECT_TRUE((*r.messages)[1]["content"].is_null());
  EXPECT_TRUE((*r.messages)[1].contains("tool_calls"));
}

TEST(OpenAiRequest, ErrorsNameTheParameter) {
  struct Case {
    std::string body, param;
  };
  const std::vector<Case> cases = {
      {"{" + kMsgs + R"(,"temperature":2.5})", "temperature"},
      {"{" + kMsgs + R"(,"temperature":"hot"})", "temperature"},
      {"{" + kMsgs + R"(,"top_p":-0.1})", "top_p"},
      {"{" + kMsgs + R"(,"max_tokens":0})", "max_tokens"},
      {"{" + kMsgs + R"(,"max_tokens":1e400})", ""},  // not even JSON nlohmann accepts as finite
      {"{" + kMsgs + R"(,"max_tokens":99999999999999999999999})", "max_tokens"},
      {"{" + kMsgs + R"(,"max_tokens":3.5})", "max_tokens"},
      {"{" + kMsgs + R"(,"n":2})", "n"},
      {"{" + kMsgs + R"(,"stop":[1]})", "stop"},
      {"{" + kMsgs + R"(,"stop":["a","b","c","d","e"]})", "stop"},
      {"{" + kMsgs + R"(,"stream":"yes"})", "stream"},
      {"{" + kMsgs + R"(,"stream_options":{"include_usage":true}})", "stream_options"},
      {"{" + kMsgs + R"(,"top_logprobs":2})", "top_logprobs"},
      {"{" + kMsgs + R"(,"logprobs":true,"top_logprobs":21})", "top_logprobs"},
      {"{" + kMsgs + R"(,"logit_bias":{"x":1}})", "logit_bias"},
      {"{" + kMsgs + R"(,"response_format":{"type":"json_schema"}})", "response_format.type"},
      {"{" + kMsgs + R"(,"model":5})", "model"},
      {R"({"messages":[]})", "messages"},
      {R"({"messages":[{"role":"wizard","content":"x"}]})", "messages[0].role"},
      {R"({"messages":[{"role":"user","content":5}]})", "messages[0].content"},
      {R"({"messages":[{"role":"user"}]})", "messages[0].content"},
      {R"({"messages":[{"role":"user","content":[{"type":"image_url"}]}]})", "messages[0].content"},
      {R"({})", "messages"},
  };
  for (const Case& c : cases) {
    const ApiError e = chat_error(c.body);
    EXPECT_EQ(e.status(), 400) << c.body;
    if (!c.param.empty()) {
      EXPECT_EQ(e.param(), c.param) << c.body;
      EXPECT_NE(std::string(e.what()).find(c.param), std::string::npos) << e.what();
    }
  }
  EXPECT_STREQ(chat_error("{" + kMsgs + R"(,"temperature":3})").what(), "'temperature' must be a number between 0 and 2");
}

TEST(OpenAiRequest, MalformedBodiesAndInvalidUtf8Are400) {
  for (const std::string& body : std::vector<std::string>{"", "{", "[1]", "null", "{\"messages\":", std::string("{\"messages\":[{\"role\":\"user\",\"content\":\"\xff\"}]}")}) {
    const ApiError e = chat_error(body);
    EXPECT_EQ(e.status(), 400) << body;
    const auto j = nlohmann::json::parse(e.to_json());  // the error body itself is valid JSON
    EXPECT_EQ(j["error"]["type"], "invalid_request_error");
  }
}

TEST(OpenAiRequest, CompletionPrompts) {
  EXPECT_EQ(parse_completion_request(R"({"prompt":"abc"})").prompt, "abc");
  const CompletionRequest t = parse_completion_request(R"({"prompt":[1,2,3],"logprobs":2})");
  EXPECT_TRUE(t.prompt_is_tokens);
  EXPECT_EQ(t.prompt_tokens, (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(t.sampling.n_top_logprobs, 2);
  EXPECT_THROW(parse_completion_request(R"({"prompt":[-1]})"), ApiError);
  EXPECT_THROW(parse_completion_request(R"({"prompt":["a","b"]})"), ApiError);
  EXPECT_THROW(parse_completion_request(R"({})"), ApiError);
  EXPECT_THROW(parse_completion_request(R"({"prompt":"a","logprobs":6})"), ApiError);
}

}  // namespace
}  // namespace moxie::server
