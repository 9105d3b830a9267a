// models.toml: the TOML-subset reader checked against Python's tomllib (the oracle: the
// same documents must give the same values, and what tomllib refuses we refuse too), and
// the [[model]] tables' typed reading with errors that name the line and the key.
#include "moxie/server/model_config_file.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "moxie/core/error.h"
#include "moxie/server/toml_subset.h"

namespace moxie::server {
namespace {

using nlohmann::json;

std::filesystem::path write_temp(const std::string& text) {
  static int n = 0;
  const auto path = std::filesystem::temp_directory_path() /
                    ("moxie_toml_" + std::to_string(getpid()) + "_" + std::to_string(n++) + ".toml");
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

// tomllib's reading of the text as JSON (values JSON cannot hold, such as dates or inf,
// as their text), or null when tomllib refuses it.
json tomllib_reading(const std::string& text) {
  const auto path = write_temp(text);
  const std::string cmd = "/usr/bin/python3 -c \"import json,sys,tomllib\n"
                          "try: print(json.dumps(tomllib.load(open(sys.argv[1],'rb')), default=str, allow_nan=False))\n"
                          "except tomllib.TOMLDecodeError: print('null')\n"  // a ValueError too: first
                          "except ValueError: print('\\\"outside JSON\\\"')\" " + path.string();
  std::string out;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    pclose(p);
  }
  std::filesystem::remove(path);
  return json::parse(out);
}

json value_json(const TomlValue& v) {
  switch (v.kind) {
    case TomlValue::Kind::string: return v.string;
    case TomlValue::Kind::integer: return v.integer;
    case TomlValue::Kind::floating: return v.floating;
    case TomlValue::Kind::boolean: return v.boolean;
  }
  return nullptr;
}

json our_reading(const std::string& text) {
  const TomlDocument doc = parse_toml_subset(text, "t.toml");
  json out = json::object();
  auto table_json = [](const TomlTable& t) {
    json o = json::object();
    for (const auto& [k, v] : t.values) o[k] = value_json(v);
    return o;
  };
  out = table_json(doc.root);
  for (const TomlTable& t : doc.tables) {
    if (t.array_item) out[t.name].push_back(table_json(t));
    else out[t.name] = table_json(t);
  }
  return out;
}

TEST(TomlSubset, ReadsLikeTomllib) {
  const std::vector<std::string> docs = {
      "# comment only\n",
      "title = \"moxie\"  # trailing comment\nport = 8080\nratio = 0.25\nbig = 1_000_000\nneg = -17\n"
      "exp = 2e3\nflag = true\noff = false\nlit = 'C:\\path\\no escapes'\n",
      "[[model]]\npath = \"a.gguf\"\nalias = \"x\"\n\n[[model]]\r\npath = 'b.gguf'\r\nctx_size = 4096\r\n",
      "[server]\nhost = \"0.0.0.0\"\n[[model]]\npath = \"esc \\\"q\\\" \\\\ \\t \\u00e9 \\U0001F600\"\n",
      "  indented = +5\n\t[ spaced ]\n  k-e_y = \"#not a comment\"\n"};
  for (const std::string& d : docs) {
    const json oracle = tomllib_reading(d);
    ASSERT_FALSE(oracle.is_null()) << "tomllib refused the test document:\n" << d;
    EXPECT_EQ(our_reading(d), oracle) << d;
  }
}

TEST(TomlSubset, RefusesWhatTomllibRefusesNamingTheLine) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"a = 1\na = 2\n", "t.toml:2: key 'a'"},
      {"x = \"open\n", "t.toml:1: key 'x'"},
      {"\n\nn = 1__0\n", "t.toml:3: key 'n'"},
      {"n = 012\n", "t.toml:1: key 'n'"},
      {"n = 1.\n", "t.toml:1: key 'n'"},
      {"n = \"a\" b\n", "t.toml:1:"},
      {"[t]\n[t]\n", "t.toml:2:"},
      {"[[t]]\n[t]\n", "t.toml:2:"},
      {"k = \"\\q\"\n", "t.toml:1: key 'k'"},
      {"k =\n", "t.toml:1: key 'k'"},
      {"= 3\n", "t.toml:1:"},
      {"[[t]\n", "t.toml:1:"}};
  for (const auto& [text, where] : bad) {
    EXPECT_TRUE(tomllib_reading(text).is_null()) << "tomllib accepts:\n" << text;
    try {
      parse_toml_subset(text, "t.toml");
      ADD_FAILURE() << "accepted:\n" << text;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(where), std::string::npos) << e.what();
    }
  }
}

TEST(TomlSubset, RefusesIntegersOutside64Bits) {
  // TOML 1.0: an integer that cannot be held losslessly in 64 bits must be an error
  // (tomllib, with Python's unbounded integers, accepts it).
  EXPECT_EQ(our_reading("n = 9223372036854775807\n")["n"], INT64_MAX);
  EXPECT_EQ(our_reading("n = -9223372036854775808\n")["n"], INT64_MIN);
  EXPECT_THROW(parse_toml_subset("n = 9223372036854775808\n", "t.toml"), Error);
}

TEST(TomlSubset, RefusesValidTomlOutsideTheSubsetRatherThanMisreadingIt) {
  for (const std::string text : {"a = [1, 2]\n", "a = {b = 1}\n", "a.b = 1\n", "\"q\" = 1\n", "a = \"\"\"x\"\"\"\n",
                                 "a = 0x1F\n", "a = inf\n", "a = 1979-05-27\n"}) {
    EXPECT_FALSE(tomllib_reading(text).is_null()) << text;
    EXPECT_THROW(parse_toml_subset(text, "t.toml"), Error) << text;
  }
}

TEST(ModelConfigFile, ReadsModelsWithDefaultsAndPrices) {
  EngineOptions defaults;
  defaults.n_parallel = 3;
  defaults.max_queue = 7;
  const auto models = parse_model_config(
      "[[model]]\npath = \"models/big.gguf\"\nalias = \"flagship-moe\"\nctx_size = 8192\nparallel = 4\n"
      "input_per_million_usd = \"10\"\ncached_input_per_million_usd = \"2.5\"\noutput_per_million_usd = \"30\"\n"
      "[[model]]\npath = \"/abs/deepseek-v3.gguf\"\ninput_per_million_usd = \"0.14\"\noutput_per_million_usd = \"0.28\"\n"
      "[[model]]\npath = \"free.gguf\"\nqueue = 0\n",
      "models.toml", "/etc/moxie", defaults);
  ASSERT_EQ(models.size(), 3u);
  EXPECT_EQ(models[0].spec.path, "/etc/moxie/models/big.gguf");
  EXPECT_EQ(models[0].spec.alias, "flagship-moe");
  EXPECT_EQ(models[0].spec.engine.n_ctx, 8192);
  EXPECT_EQ(models[0].spec.engine.n_parallel, 4);
  EXPECT_EQ(models[0].spec.engine.max_queue, 7);
  ASSERT_TRUE(models[0].price);
  EXPECT_EQ(models[0].price->input_per_million, 10'000'000'000);
  EXPECT_EQ(models[0].price->cached_input_per_million, 2'500'000'000);
  EXPECT_EQ(models[0].price->output_per_million, 30'000'000'000);
  EXPECT_EQ(models[1].spec.path, "/abs/deepseek-v3.gguf");
  EXPECT_EQ(models[1].spec.alias, "deepseek-v3");
  EXPECT_EQ(models[1].spec.engine.n_parallel, 3);
  EXPECT_EQ(models[1].price->input_per_million, 140'000'000);
  EXPECT_EQ(models[1].price->cached_input_per_million, 140'000'000);  // defaults to the input price
  EXPECT_EQ(models[1].price->output_per_million, 280'000'000);
  EXPECT_FALSE(models[2].price);
  EXPECT_EQ(models[2].spec.engine.max_queue, 0);
}

TEST(ModelConfigFile, ErrorsNameTheLineAndTheKey) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"[[model]]\nalias = \"x\"\n", "m.toml:1: [[model]] needs a 'path'"},
      {"[[model]]\npath = \"a\"\nctx = 5\n", "m.toml:3: key 'ctx': unknown key"},
      {"[[model]]\npath = \"a\"\nparallel = \"4\"\n", "m.toml:3: key 'parallel': expected an integer, got a string"},
      {"[[model]]\npath = \"a\"\nparallel = 0\n", "m.toml:3: key 'parallel': must be between 1 and 1024"},
      {"[[model]]\npath = \"a\"\ninput_per_million_usd = 10\n", "m.toml:3: key 'input_per_million_usd': expected a string"},
      {"[[model]]\npath = \"a\"\ninput_per_million_usd = \"ten\"\n", "m.toml:3: key 'input_per_million_usd'"},
      {"[[model]]\npath = \"a\"\ninput_per_million_usd = \"1\"\n", "m.toml:1: [[model]] 'a': a price needs both"},
      {"[[model]]\npath = \"a.gguf\"\n[[model]]\npath = \"b/a.gguf\"\n", "m.toml:3: two models are named 'a'"},
      {"port = 1\n", "m.toml:1: key 'port': keys belong inside a [[model]] table"},
      {"[models]\n", "m.toml:1: unknown table 'models'"},
      {"# nothing\n", "m.toml: no [[model]] table"}};
  for (const auto& [text, message] : bad) {
    try {
      parse_model_config(text, "m.toml", "", EngineOptions{});
      ADD_FAILURE() << "accepted:\n" << text;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(load_model_config("/nonexistent/models.toml", EngineOptions{}), Error);
}

}  // namespace
}  // namespace moxie::server
