#include "moxie/tokenizer/template/builtins.h"

#include <ctime>

#include "moxie/tokenizer/template/eval_error.h"

namespace moxie::tmpl {
namespace {

// range() is materialised, so its length is capped well below what would exhaust memory.
constexpr int64_t kMaxRangeLength = 1'000'000;

Value builtin_range(CallArgs& a) {
  for (const Value& v : a.positional)
    if (!v.is_int() && !v.is_bool()) throw EvalError("range() arguments must be integers, got '" + type_name(v) + "'");
  auto arg = [&](size_t i) { return a.positional[i].is_bool() ? int64_t{a.positional[i].as_bool()} : a.positional[i].as_int(); };
  int64_t start = 0, stop = 0, step = 1;
  if (a.positional.size() == 1) stop = arg(0);
  else if (a.positional.size() == 2 || a.positional.size() == 3) start = arg(0), stop = arg(1);
  else throw EvalError("range() takes 1 to 3 arguments");
  if (a.positional.size() == 3) step = arg(2);
  if (step == 0) throw EvalError("range() arg 3 must not be zero");
  __int128 span = step > 0 ? (__int128)stop - start : (__int128)start - stop;
  __int128 abs_step = step > 0 ? step : -(__int128)step;
  __int128 length = span <= 0 ? 0 : (span + abs_step - 1) / abs_step;
  if (length > kMaxRangeLength) throw EvalError("range() of " + std::to_string((long long)length) + " items exceeds the limit of " + std::to_string(kMaxRangeLength));
  std::vector<Value> items;
  items.reserve(static_cast<size_t>(length));
  for (int64_t i = 0, v = start; i < static_cast<int64_t>(length); ++i, v += step) items.emplace_back(v);
  return make_list(std::move(items));
}

// namespace(a=1) / dict(a=1), optionally seeded from a dict given positionally.
Value build_dict(CallArgs& a, bool is_namespace, const char* name) {
  auto dict = std::make_shared<Dict>();
  dict->is_namespace = is_namespace;
  if (a.positional.size() > 1) throw EvalError(std::string(name) + "() takes at most one positional argument");
  if (!a.positional.empty()) {
    if (!a.positional[0].is_dict()) throw EvalError(std::string(name) + "() positional argument must be a mapping");
    for (const auto& [key, value] : a.positional[0].as_dict()->entries) dict->set(key, value);
  }
  for (const auto& [key, value] : a.keyword) dict->set(key, value);
  return Value(std::move(dict));
}

Value builtin_strftime_now(CallArgs& a) {
  if (a.positional.size() != 1 || !a.positional[0].is_string()) throw EvalError("strftime_now() takes one format string");
  std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char buf[512];
  size_t n = std::strftime(buf, sizeof(buf), a.positional[0].as_string().c_str(), &local);
  return Value(std::string(buf, n));
}

}  // namespace

void add_globals(std::unordered_map<std::string, Value>& vars) {
  vars["range"] = make_callable("range", builtin_range);
  vars["namespace"] = make_callable("namespace", [](CallArgs& a) { return build_dict(a, true, "namespace"); });
  vars["dict"] = make_callable("dict", [](CallArgs& a) { return build_dict(a, false, "dict"); });
  vars["raise_exception"] = make_callable("raise_exception", [](CallArgs& a) -> Value {
    throw RaisedError(a.positional.empty() ? std::string() : to_str(a.positional[0]));
  });
  vars["strftime_now"] = make_callable("strftime_now", builtin_strftime_now);
}

}  // namespace moxie::tmpl
