// Draws one chat message as an <article>. Replies are Markdown (sanitized, see
// markdown.ts); the user's own messages are shown as plain text. Streaming replies are
// redrawn in place, so the drawing must be cheap enough to run once per frame.

import { renderMarkdown } from "./markdown";
import { splitThink } from "./think";
import type { ChatMessage, Pricing } from "./types";
import { usageFigures } from "./usage";

export interface MessageContext {
  index: number;
  isLast: boolean;
  isLastUser: boolean;
  streaming: boolean;
  pricing: Pricing | undefined;
}

function element<K extends keyof HTMLElementTagNameMap>(tag: K, className: string, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function actionButton(action: string, label: string): HTMLButtonElement {
  const button = element("button", "message-action", label);
  button.type = "button";
  button.dataset.action = action;
  return button;
}

function reasoningBlock(reasoning: string, open: boolean, wasOpen: boolean): HTMLDetailsElement {
  const details = element("details", "reasoning");
  // Stay open while the model is thinking; afterwards keep whatever the user chose.
  details.open = open || wasOpen;
  const summary = element("summary", "", open ? "Thinking…" : "Reasoning");
  const body = element("div", "reasoning-body markdown");
  body.append(renderMarkdown(reasoning));
  details.append(summary, body);
  return details;
}

function usageFooter(message: ChatMessage, pricing: Pricing | undefined): HTMLElement | null {
  if (!message.usage) return null;
  const footer = element("footer", "usage");
  for (const figure of usageFigures(message.usage, message.timing, pricing)) {
    const span = element("span", "figure", figure.text);
    span.dataset.figure = figure.name;
    span.title = figure.title;
    footer.append(span);
  }
  return footer;
}

function assistantBody(article: HTMLElement, message: ChatMessage, context: MessageContext, wasOpen: boolean): void {
  const split = splitThink(message.content);
  const reasoning = [message.reasoning ?? "", split.reasoning].filter((part) => part).join("\n\n");
  const stillThinking = context.streaming && (split.open || (!!message.reasoning && !split.answer));
  if (reasoning) article.append(reasoningBlock(reasoning, stillThinking, wasOpen));
  const content = element("div", "content markdown");
  content.append(renderMarkdown(split.answer));
  if (context.streaming) content.append(element("span", "cursor", "▍"));
  article.append(content);
  if (message.stopped) article.append(element("div", "note", "Stopped."));
  if (message.error) {
    const error = element("div", "message-error", message.error);
    error.setAttribute("role", "alert");
    article.append(error);
  }
  const footer = usageFooter(message, context.pricing);
  if (footer) article.append(footer);
}

/** Draws `message` into `article` (created when null) and returns it. */
export function drawMessage(article: HTMLElement | null, message: ChatMessage, context: MessageContext): HTMLElement {
  const wasOpen = article?.querySelector("details.reasoning")?.hasAttribute("open") ?? false;
  const node = article ?? element("article", "");
  node.replaceChildren();
  node.className = `message ${message.role}`;
  node.dataset.index = String(context.index);
  node.dataset.streaming = String(context.streaming);
  const label = message.role === "user" ? "You" : `Assistant${message.model ? " · " + message.model : ""}`;
  node.append(element("div", "role", label));
  if (message.role === "assistant") {
    assistantBody(node, message, context, wasOpen);
  } else {
    node.append(element("div", "content plain", message.content));
  }
  if (!context.streaming) {
    const actions = element("div", "actions");
    actions.append(actionButton("copy-message", "Copy"));
    if (context.isLastUser) actions.append(actionButton("edit", "Edit"));
    if (context.isLast && message.role === "assistant") actions.append(actionButton("regenerate", "Regenerate"));
    node.append(actions);
  }
  return node;
}

/** Replaces a user message's text with an editor; resolves with the new text or null. */
export function editInPlace(article: HTMLElement, text: string): Promise<string | null> {
  return new Promise((resolve) => {
    const content = article.querySelector(".content")!;
    const editor = element("textarea", "edit-box");
    editor.value = text;
    editor.rows = Math.min(12, Math.max(2, text.split("\n").length));
    const save = actionButton("save-edit", "Save & send");
    const cancel = actionButton("cancel-edit", "Cancel");
    const bar = element("div", "actions");
    bar.append(save, cancel);
    content.replaceWith(editor);
    article.querySelector(".actions")?.replaceWith(bar);
    editor.focus();
    save.addEventListener("click", () => resolve(editor.value));
    cancel.addEventListener("click", () => resolve(null));
    editor.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        resolve(editor.value);
      } else if (event.key === "Escape") {
        resolve(null);
      }
    });
  });
}
