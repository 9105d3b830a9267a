// Error messages (line + construct), resource limits (runaway loops, recursion, huge
// strings, deep nesting) and a few semantics checked by hand against Python jinja2 3.1
// (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks); the expected strings are
// what jinja2 printed for the same templates.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "moxie/core/error.h"
#include "moxie/tokenizer/template/chat_template.h"

namespace {

using ojson = nlohmann::ordered_json;

std::string render(const std::string& source, const ojson& vars = ojson::object(), moxie::ChatTemplateLimits limits = {}) {
  return moxie::ChatTemplate(source).render(vars.is_null() ? ojson::object() : vars, limits);
}

// The moxie::Error message the template produces, parsing or rendering; "" if none.
std::string error_of(const std::string& source, const ojson& vars = ojson::object(), moxie::ChatTemplateLimits limits = {}) {
  try {
    render(source, vars, limits);
  } catch (const moxie::Error& e) {
    return e.what();
  }
  return "";
}

#define EXPECT_HAS(haystack, needle) EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << (haystack)

TEST(ChatTemplateErrors, SyntaxErrorsNameLineAndConstruct) {
  std::string e = error_of("{% if x %}\nabc\n");
  EXPECT_HAS(e, "'if' opened at line 1");
  EXPECT_HAS(e, "'endif'");
  EXPECT_HAS(error_of("one\ntwo\n{% bogus %}"), "line 3: unknown tag 'bogus'");
  EXPECT_HAS(error_of("a\n{% endfor %}"), "line 2: unexpected 'endfor'");
  EXPECT_HAS(error_of("{% for x in %}{% endfor %}"), "expected an expression");
  EXPECT_HAS(error_of("\n\n{{ x | }}"), "line 3: expected a name in filter");
  EXPECT_HAS(error_of("x\n{{ 'unterminated }}"), "line 2: unterminated string literal");
  EXPECT_HAS(error_of("{# never closed"), "missing end of comment tag");
  EXPECT_HAS(error_of("{% raw %}never closed"), "missing end of raw directive");
  EXPECT_HAS(error_of("{{ foo(1 ]] }}"), "unexpected ']', expected ')'");
  EXPECT_HAS(error_of("{{ x"), "unexpected end of template inside '{{ ... }}'");
  EXPECT_HAS(error_of("{% include 'other.jinja' %}"), "'include' tag is not supported");
  EXPECT_HAS(error_of("{% for x in y recursive %}{% endfor %}"), "recursive loops are not supported");
  EXPECT_HAS(error_of("{% macro m(a %}{% endmacro %}"), "unexpected '}', expected ')'");
  EXPECT_HAS(error_of("{% macro m(a b) %}{% endmacro %}"), "'macro' parameters");
}

TEST(ChatTemplateErrors, RuntimeErrorsNameLineAndConstruct) {
  std::string e = error_of("ok\n{{ foo.bar }}");
  EXPECT_HAS(e, "line 2");
  EXPECT_HAS(e, "{{ ... }}");
  EXPECT_HAS(e, "'foo' is undefined");
  EXPECT_HAS(error_of("{% set m = {} %}\n\n{% if m.a.b %}{% endif %}"), "line 3, in {% if %}: 'dict object' has no attribute 'a'");
  EXPECT_HAS(error_of("{{ 1 | no_such_filter }}"), "unknown filter 'no_such_filter'");
  EXPECT_HAS(error_of("{{ 1 is no_such_test }}"), "unknown test 'no_such_test'");
  EXPECT_HAS(error_of("{{ 1 + 'a' }}"), "unsupported operand type(s) for +: 'int' and 'str'");
  EXPECT_HAS(error_of("{% set l = [1] %}{{ l.append(2) }}"), "access to attribute 'append' of 'list' object is unsafe");
  EXPECT_HAS(error_of("{% for x in 3 %}{% endfor %}"), "'int' object is not iterable");
  EXPECT_HAS(error_of("{% set a, b = [1, 2, 3] %}"), "too many values to unpack");
  EXPECT_HAS(error_of("{% set x = 1 %}{% set x.y = 2 %}"), "only namespace() objects");
  EXPECT_HAS(error_of("{{ 'a' in none }}"), "argument of type 'NoneType' is not iterable");
  EXPECT_HAS(error_of("{{ 1 // 0 }}"), "division or modulo by zero");
}

TEST(ChatTemplateErrors, RaiseExceptionPassesTheTemplatesMessage) {
  std::string e = error_of("line one\n{{ raise_exception('Roles must alternate!') }}");
  EXPECT_HAS(e, "Roles must alternate!");
  EXPECT_HAS(e, "line 2");
}

TEST(ChatTemplateLimits, RunawayLoopStopsWithAnError) {
  moxie::ChatTemplateLimits limits;
  limits.max_steps = 200'000;
  auto start = std::chrono::steady_clock::now();
  std::string e = error_of("{% for i in range(1000000) %}{% for j in range(1000000) %}{% endfor %}{% endfor %}", {}, limits);
  EXPECT_HAS(e, "loop iterations");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));  // generous: it must not hang
}

TEST(ChatTemplateLimits, UnboundedRecursionStopsWithAnError) {
  EXPECT_HAS(error_of("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"), "macro calls nest deeper than 64");
  // Mutual recursion through two macros is caught the same way.
  EXPECT_HAS(error_of("{% macro a() %}{{ b() }}{% endmacro %}{% macro b() %}{{ a() }}{% endmacro %}{{ a() }}"),
             "nest deeper");
}

TEST(ChatTemplateLimits, HugeValuesAreRefused) {
  EXPECT_HAS(error_of("{{ range(10 ** 12) | length }}"), "exceeds the limit");
  EXPECT_HAS(error_of("{{ 'x' * 10 ** 12 }}"), "exceeds");
  moxie::ChatTemplateLimits limits;
  limits.max_output_bytes = 1 << 20;
  EXPECT_HAS(error_of("{% for i in range(100000) %}{{ 'x' * 100 }}{% endfor %}", {}, limits), "exceeds");
  EXPECT_HAS(error_of("{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}", {}, limits),
             "exceeds");
  EXPECT_HAS(error_of("{{ 2 ** 200 }}"), "integer overflow");
}

TEST(ChatTemplateLimits, DeepNestingIsRejectedNotOverflowed) {
  std::string parens = "{{ " + std::string(100000, '(') + "1" + std::string(100000, ')') + " }}";
  EXPECT_HAS(error_of(parens), "nests deeper than");
  std::string ifs;
  for (int i = 0; i < 5000; ++i) ifs += "{% if true %}";
  EXPECT_HAS(error_of(ifs), "nests deeper than");
  EXPECT_HAS(error_of("{{ " + std::string(100000, '-') + "1 }}"), "nests deeper than");
  std::string nots;
  for (int i = 0; i < 50000; ++i) nots += "not ";
  EXPECT_HAS(error_of("{{ " + nots + "x }}"), "nests deeper than");
  std::string lists = "{{ " + std::string(100000, '[') + std::string(100000, ']') + " }}";
  EXPECT_HAS(error_of(lists), "nests deeper than");
}

// Expected outputs below were printed by jinja2 3.1.2 for the same template text.
TEST(ChatTemplateSemantics, ScopingMatchesJinja2) {
  EXPECT_EQ(render("{% for x in [1,2] %}{% if loop.first %}{% set y = 1 %}{% endif %}{{ y }}{% endfor %}"), "1");
  EXPECT_EQ(render("{% set y = 5 %}{% for x in [1,2] %}{{ y }}{% set y = x %}{{ y }}{% endfor %}{{ y }}"), "51525");
  EXPECT_EQ(render("{% macro m() %}{{ z }}{% endmacro %}{% set z = 3 %}{{ m() }}"), "3");
  EXPECT_EQ(render("{% for x in [1,2] %}{% macro m() %}{{ x }}{% endmacro %}{{ m() }}{% endfor %}"), "12");
}

TEST(ChatTemplateSemantics, WhitespaceControlMatchesJinja2) {
  EXPECT_EQ(render("{% if x %}a{% endif %}  \n  {% if y %}b{% endif %}\n{{ 'c' }}  {# c #}\nd"), "  \nc  d");
  EXPECT_EQ(render("a\n  {%- if true %}\n  b\n  {% endif -%}\n  c\n"), "a  b\nc");
  EXPECT_EQ(render("x  {%+ if true %}y{% endif +%}\nz"), "x  y\nz");
}

TEST(ChatTemplateSemantics, ValuesPrintLikePython) {
  EXPECT_EQ(render("{{ 'a' ~ none ~ 1.0 ~ [1,'b'] }}"), "aNone1.0[1, 'b']");
  EXPECT_EQ(render("{{ (1,) }}{{ ('a',2) }}{{ {'k': none, 'j': true} }}"), "(1,)('a', 2){'k': None, 'j': True}");
  EXPECT_EQ(render("{{ 10 // 3 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ 1e20 }} {{ 0.1 + 0.2 }}"),
            "3 -4 2 3.5 1024 0.5 1e+20 0.30000000000000004");
  EXPECT_EQ(render("{{ 'abc'[::-1] }}{{ [1,2,3][-1] }}{{ 'h\u00e9llo'[1] }}{{ 'h\u00e9llo'|length }}"), "cba3\u00e95");
  EXPECT_EQ(render("{{ none.x }}|{{ {}.x }}|{{ 'ab'.x }}"), "||");
  EXPECT_EQ(render("{{ ['b','A','a']|sort }}{{ ['b','A','a']|unique|list }}"), "['A', 'a', 'b']['b', 'A']");
}

// Numbers past int64 in an attribute path or a str.format index (found by template_fuzz: they
// used to escape as std::out_of_range and abort): jinja2 finds no such item, or refuses the
// format string.
TEST(ChatTemplateSemantics, IndicesPastInt64AreNoItemOrAnError) {
  const std::string huge = "99999999999999999999";
  EXPECT_EQ(render("{{ [[1,2],[3]] | map(attribute='" + huge + "') | list | length }}"), "2");
  EXPECT_EQ(render("{{ [[1,2],[3]] | map(attribute='" + huge + "') | select('defined') | list }}"), "[]");
  EXPECT_EQ(render("{{ [[1,2],[3]] | map(attribute='1') | select('defined') | list }}"), "[2]");
  EXPECT_HAS(error_of("{{ '{" + huge + "}'.format(1) }}"), "too many decimal digits in format string");
  EXPECT_HAS(error_of("{{ '{3}'.format(1) }}"), "replacement index 3 out of range");
}

TEST(ChatTemplateApi, ApplyChatTemplatePassesHuggingFaceVariables) {
  moxie::ChatTemplate tmpl(
      "{{ tools is none }}|{{ documents is none }}|{{ add_generation_prompt }}|{{ bos_token }}|{{ messages[0].content }}");
  ojson messages = ojson::parse(R"([{"role": "user", "content": "hi"}])");
  EXPECT_EQ(moxie::apply_chat_template(tmpl, messages, nullptr, true, ojson{{"bos_token", "<s>"}}), "True|True|True|<s>|hi");
  EXPECT_THROW(moxie::apply_chat_template(tmpl, ojson::object(), nullptr, false, nullptr), moxie::Error);
  EXPECT_THROW(moxie::builtin_chat_template("nope"), moxie::Error);
  EXPECT_EQ(moxie::builtin_chat_template_for_architecture("deepseek2"), moxie::builtin_chat_template("deepseek"));
  EXPECT_EQ(moxie::builtin_chat_template_for_architecture("qwen3moe"), moxie::builtin_chat_template("chatml"));
}

}  // namespace
