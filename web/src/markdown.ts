// Model output -> safe DOM. Three layers keep replies inert:
//  1. marked renders raw HTML in the Markdown as escaped text, so "<script>" or
//     "<img onerror=...>" in a reply is shown, not parsed;
//  2. DOMPurify sanitizes what marked produced (links, images, attributes);
//  3. the page's Content-Security-Policy forbids inline scripts and foreign loads.
// Code blocks are highlighted by highlight.js (common languages only, to keep the
// bundle small) and get a copy button.

import DOMPurify from "dompurify";
import { Marked } from "marked";
import hljs from "highlight.js/lib/core";
import bash from "highlight.js/lib/languages/bash";
import c from "highlight.js/lib/languages/c";
import cpp from "highlight.js/lib/languages/cpp";
import css from "highlight.js/lib/languages/css";
import diff from "highlight.js/lib/languages/diff";
import go from "highlight.js/lib/languages/go";
import java from "highlight.js/lib/languages/java";
import javascript from "highlight.js/lib/languages/javascript";
import json from "highlight.js/lib/languages/json";
import markdownLang from "highlight.js/lib/languages/markdown";
import python from "highlight.js/lib/languages/python";
import rust from "highlight.js/lib/languages/rust";
import sql from "highlight.js/lib/languages/sql";
import typescript from "highlight.js/lib/languages/typescript";
import xml from "highlight.js/lib/languages/xml";
import yaml from "highlight.js/lib/languages/yaml";

const LANGUAGES = { bash, c, cpp, css, diff, go, java, javascript, json, markdown: markdownLang,
  python, rust, sql, typescript, xml, yaml };
for (const [name, language] of Object.entries(LANGUAGES)) hljs.registerLanguage(name, language);

function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

const marked = new Marked({
  gfm: true,
  breaks: false,
  renderer: {
    // Raw HTML blocks and inline tags are shown as the text the model wrote.
    html(token) {
      return escapeHtml(token.text);
    },
  },
});

DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A") {
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer nofollow");
  }
});

const PURIFY_CONFIG = {
  FORBID_TAGS: ["style", "form", "input", "button", "textarea", "select", "iframe", "object", "embed"],
  FORBID_ATTR: ["style", "class", "id", "srcset"],
  ALLOW_DATA_ATTR: false,
};

function highlightCodeBlocks(root: DocumentFragment): void {
  for (const code of root.querySelectorAll<HTMLElement>("pre > code")) {
    const text = code.textContent ?? "";
    const language = /language-([\w+#-]+)/.exec(code.getAttribute("data-lang") ?? "")?.[1];
    const result = language && hljs.getLanguage(language)
      ? hljs.highlight(text, { language, ignoreIllegals: true })
      : hljs.highlightAuto(text, Object.keys(LANGUAGES));
    // highlight.js escapes the code itself and adds only <span class="hljs-..."> tags.
    code.innerHTML = DOMPurify.sanitize(result.value, { ALLOWED_TAGS: ["span"], ALLOWED_ATTR: ["class"] });
    code.classList.add("hljs");
    const pre = code.parentElement!;
    pre.classList.add("code-block");
    if (result.language) pre.dataset.language = result.language;
    const copy = document.createElement("button");
    copy.type = "button";
    copy.className = "copy-code";
    copy.textContent = "Copy";
    copy.setAttribute("aria-label", "Copy the code");
    pre.prepend(copy);
  }
}

/** Renders Markdown written by a model (or the user) into a sanitized fragment. */
export function renderMarkdown(source: string): DocumentFragment {
  const html = marked.parse(source, { async: false }) as string;
  // DOMPurify drops class attributes (FORBID_ATTR), so keep each code block's language
  // in data-lang first: marked writes it as class="language-xyz".
  const tagged = html.replace(/<code class="(language-[\w+#-]+)">/g, '<code data-lang="$1">');
  const fragment = DOMPurify.sanitize(tagged, {
    ...PURIFY_CONFIG,
    ADD_ATTR: ["data-lang"],
    RETURN_DOM_FRAGMENT: true,
  }) as DocumentFragment;
  highlightCodeBlocks(fragment);
  return fragment;
}

/** Copies text, also where navigator.clipboard is missing (plain http off localhost). */
export async function copyText(text: string): Promise<boolean> {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // Fall through to the selection-based copy.
    }
  }
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.className = "offscreen";
  document.body.append(area);
  area.select();
  const ok = document.execCommand("copy");
  area.remove();
  return ok;
}
