// The chat page's state and behaviour: conversations, the model list, sending,
// streaming with Stop, edit/regenerate, and errors shown as readable messages.

import { ApiError, listModels, streamChat, type ChatRequest } from "./api";
import { copyText } from "./markdown";
import { drawMessage, editInPlace } from "./message_view";
import { drawSidebar } from "./sidebar";
import { applyTheme, editSettings, nextTheme } from "./settings_dialog";
import * as store from "./store";
import { splitThink } from "./think";
import type { ChatMessage, Conversation, ModelInfo, Settings } from "./types";

function byId<T extends HTMLElement>(id: string): T {
  return document.getElementById(id) as T;
}

const TITLE_CHARS = 48;

export class ChatApp {
  private settings: Settings = store.loadSettings();
  private conversations: Conversation[] = store.loadConversations();
  private current: Conversation | null = this.conversations[0] ?? null;
  private models: ModelInfo[] = [];
  private abort: AbortController | null = null;
  private redrawQueued = false;

  private readonly messagesBox = byId<HTMLElement>("messages");
  private readonly prompt = byId<HTMLTextAreaElement>("prompt");
  private readonly modelSelect = byId<HTMLSelectElement>("model-select");

  start(): void {
    applyTheme(this.settings.theme);
    this.wireComposer();
    this.wireChrome();
    this.drawAll();
    void this.loadModels();
    this.prompt.focus();
  }

  // ---- models and access -------------------------------------------------------

  private async loadModels(): Promise<void> {
    const badge = byId<HTMLElement>("access-badge");
    try {
      this.models = await listModels(this.settings.api_key);
    } catch (error) {
      this.models = [];
      this.fillModelSelect();
      if (error instanceof ApiError && error.status === 401) {
        byId<HTMLElement>("key-prompt").hidden = false;
        badge.hidden = true;
        return;
      }
      this.showError(error instanceof ApiError ? error.message : String(error));
      return;
    }
    byId<HTMLElement>("key-prompt").hidden = true;
    badge.hidden = false;
    badge.textContent = this.settings.api_key ? "API key" : "Free tier";
    badge.title = this.settings.api_key ? "Requests use the API key from Settings" : "This server needs no API key";
    this.fillModelSelect();
  }

  private fillModelSelect(): void {
    const options = this.models.map((model) => new Option(model.id, model.id));
    this.modelSelect.replaceChildren(...options);
    const wanted = this.current?.model || this.settings.model;
    if (this.models.some((model) => model.id === wanted)) this.modelSelect.value = wanted;
  }

  private pricingFor(model: string | undefined) {
    return this.models.find((candidate) => candidate.id === model)?.pricing;
  }

  // ---- drawing -------------------------------------------------------------------

  private drawAll(): void {
    drawSidebar(byId("conversation-list"), this.conversations, this.current?.id ?? null, {
      open: (id) => this.openConversation(id),
      rename: (id, title) => this.renameConversation(id, title),
      remove: (id) => this.deleteConversation(id),
      exportOne: (id) => {
        const conversation = this.conversations.find((c) => c.id === id);
        if (conversation) store.downloadJson(`moxie-chat-${id}.json`, conversation);
      },
    });
    const messages = this.current?.messages ?? [];
    this.messagesBox.replaceChildren(...messages.map((message, index) => drawMessage(null, message, this.contextFor(index))));
    if (messages.length === 0) {
      const empty = document.createElement("p");
      empty.className = "empty";
      empty.textContent = "Start a conversation: type a message below.";
      this.messagesBox.append(empty);
    }
    this.scrollToEnd(true);
  }

  private contextFor(index: number) {
    const messages = this.current!.messages;
    let lastUser = -1;
    messages.forEach((message, i) => { if (message.role === "user") lastUser = i; });
    return {
      index,
      isLast: index === messages.length - 1,
      isLastUser: index === lastUser,
      streaming: this.abort !== null && index === messages.length - 1,
      pricing: this.pricingFor(messages[index].model),
    };
  }

  /** Redraws only the last message, at most once per frame while a reply streams. */
  private queueRedrawLast(): void {
    if (this.redrawQueued) return;
    this.redrawQueued = true;
    requestAnimationFrame(() => {
      this.redrawQueued = false;
      this.redrawLast();
    });
  }

  private redrawLast(): void {
    const messages = this.current?.messages ?? [];
    if (messages.length === 0) return;
    const index = messages.length - 1;
    const follow = this.nearEnd();
    const article = this.messagesBox.querySelector<HTMLElement>(`article[data-index="${index}"]`);
    const drawn = drawMessage(article, messages[index], this.contextFor(index));
    if (!article) this.messagesBox.append(drawn);
    if (follow) this.scrollToEnd(false);
  }

  private nearEnd(): boolean {
    const box = this.messagesBox;
    return box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  }

  private scrollToEnd(force: boolean): void {
    if (force || this.nearEnd()) this.messagesBox.scrollTop = this.messagesBox.scrollHeight;
  }

  private showError(text: string): void {
    byId<HTMLElement>("error-text").textContent = text;
    byId<HTMLElement>("error-banner").hidden = false;
  }

  private setStreaming(on: boolean): void {
    byId<HTMLButtonElement>("send").hidden = on;
    byId<HTMLButtonElement>("stop").hidden = !on;
    document.body.classList.toggle("streaming", on);
  }

  // ---- conversations -------------------------------------------------------------

  private openConversation(id: string): void {
    if (this.abort) return;
    this.current = this.conversations.find((c) => c.id === id) ?? null;
    if (this.current?.model && this.models.some((m) => m.id === this.current!.model)) {
      this.modelSelect.value = this.current.model;
    }
    document.body.classList.remove("sidebar-open");
    this.drawAll();
  }

  private renameConversation(id: string, title: string): void {
    const conversation = this.conversations.find((c) => c.id === id);
    if (conversation) {
      conversation.title = title;
      store.saveConversation(conversation);
    }
    this.drawAll();
  }

  private deleteConversation(id: string): void {
    if (this.abort && this.current?.id === id) this.abort.abort();
    store.deleteConversation(id);
    this.conversations = this.conversations.filter((c) => c.id !== id);
    if (this.current?.id === id) this.current = this.conversations[0] ?? null;
    this.drawAll();
  }

  private touch(conversation: Conversation): void {
    // A conversation deleted while its reply streamed must not come back when it ends.
    if (!this.conversations.includes(conversation)) return;
    conversation.updated_ms = Date.now();
    store.saveConversation(conversation);
    this.conversations.sort((a, b) => b.updated_ms - a.updated_ms);
  }

  // ---- sending -------------------------------------------------------------------

  private send(text: string): void {
    if (this.abort || !text.trim()) return;
    if (!this.current) {
      this.current = store.newConversation(this.modelSelect.value);
      this.conversations.unshift(this.current);
    }
    const conversation = this.current;
    if (conversation.messages.length === 0) conversation.title = text.trim().replace(/\s+/g, " ").slice(0, TITLE_CHARS);
    conversation.messages.push({ role: "user", content: text });
    this.prompt.value = "";
    this.autoGrow();
    void this.complete();
  }

  private requestBody(conversation: Conversation, model: string): ChatRequest {
    const messages: ChatRequest["messages"] = [];
    if (this.settings.system_prompt.trim()) messages.push({ role: "system", content: this.settings.system_prompt });
    for (const message of conversation.messages) {
      if (message.role === "assistant" && message.error && !message.content) continue;
      // Earlier reasoning is not sent back: the chat templates drop it anyway.
      const content = message.role === "assistant" ? splitThink(message.content).answer : message.content;
      messages.push({ role: message.role, content });
    }
    const body: ChatRequest = { model, messages };
    if (this.settings.temperature !== null) body.temperature = this.settings.temperature;
    if (this.settings.top_p !== null) body.top_p = this.settings.top_p;
    if (this.settings.max_tokens !== null) body.max_tokens = this.settings.max_tokens;
    if (this.settings.seed !== null) body.seed = this.settings.seed;
    return body;
  }

  /** Streams an assistant reply to the current conversation's messages. */
  private async complete(): Promise<void> {
    const conversation = this.current!;
    const model = this.modelSelect.value || conversation.model || "";
    conversation.model = model;
    const body = this.requestBody(conversation, model);
    const reply: ChatMessage = { role: "assistant", content: "", model, timing: {} };
    conversation.messages.push(reply);
    this.touch(conversation);
    this.abort = new AbortController();
    this.setStreaming(true);
    this.drawAll();
    const sent = performance.now();
    let firstToken: number | null = null;
    const arrived = () => {
      firstToken ??= performance.now();
      reply.timing!.first_token_ms = firstToken - sent;
      this.queueRedrawLast();
    };
    try {
      await streamChat(body, this.settings.api_key, this.abort.signal, {
        onContent: (text) => { reply.content += text; arrived(); },
        onReasoning: (text) => { reply.reasoning = (reply.reasoning ?? "") + text; arrived(); },
        onUsage: (usage) => { reply.usage = usage; },
        onModel: (name) => { reply.model = name; },
      });
    } catch (error) {
      if ((error as Error).name === "AbortError") reply.stopped = true;
      else reply.error = error instanceof ApiError ? error.message : `Unexpected error: ${String(error)}`;
      if (error instanceof ApiError && error.status === 401) byId<HTMLElement>("key-prompt").hidden = false;
    }
    if (firstToken !== null) reply.timing!.generation_ms = performance.now() - firstToken;
    this.abort = null;
    this.setStreaming(false);
    this.touch(conversation);
    this.drawAll();
  }

  private regenerate(): void {
    const conversation = this.current;
    if (!conversation || this.abort) return;
    if (conversation.messages.at(-1)?.role === "assistant") conversation.messages.pop();
    void this.complete();
  }

  private async edit(index: number, article: HTMLElement): Promise<void> {
    const conversation = this.current;
    if (!conversation || this.abort) return;
    const text = await editInPlace(article, conversation.messages[index].content);
    if (text === null || !text.trim()) {
      this.drawAll();
      return;
    }
    conversation.messages.splice(index);
    conversation.messages.push({ role: "user", content: text });
    void this.complete();
  }

  // ---- wiring --------------------------------------------------------------------

  private autoGrow(): void {
    this.prompt.style.height = "auto";
    this.prompt.style.height = `${Math.min(this.prompt.scrollHeight, 240)}px`;
  }

  private wireComposer(): void {
    byId<HTMLFormElement>("composer").addEventListener("submit", (event) => {
      event.preventDefault();
      this.send(this.prompt.value);
    });
    this.prompt.addEventListener("keydown", (event) => {
      // Enter sends; Shift+Enter (and Enter while an input method composes) is a new line.
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.send(this.prompt.value);
      }
    });
    this.prompt.addEventListener("input", () => this.autoGrow());
    byId("stop").addEventListener("click", () => this.abort?.abort());
    this.messagesBox.addEventListener("click", (event) => void this.onMessageClick(event));
  }

  private async onMessageClick(event: Event): Promise<void> {
    const target = event.target as HTMLElement;
    const button = target.closest<HTMLButtonElement>("button");
    const article = target.closest<HTMLElement>("article.message");
    if (!button || !article || !this.current) return;
    const index = Number(article.dataset.index);
    if (button.classList.contains("copy-code")) {
      const code = button.parentElement?.querySelector("code")?.textContent ?? "";
      if (await copyText(code)) button.textContent = "Copied";
      return;
    }
    const action = button.dataset.action;
    if (action === "copy-message") {
      if (await copyText(this.current.messages[index].content)) button.textContent = "Copied";
    } else if (action === "regenerate") {
      this.regenerate();
    } else if (action === "edit") {
      await this.edit(index, article);
    }
  }

  private wireChrome(): void {
    byId("new-chat").addEventListener("click", () => {
      if (this.abort) return;
      this.current = null;
      document.body.classList.remove("sidebar-open");
      this.drawAll();
      this.prompt.focus();
    });
    byId("export-all").addEventListener("click", () =>
      store.downloadJson("moxie-conversations.json", { exported_ms: Date.now(), conversations: this.conversations }));
    byId("open-sidebar").addEventListener("click", () => document.body.classList.add("sidebar-open"));
    byId("close-sidebar").addEventListener("click", () => document.body.classList.remove("sidebar-open"));
    byId("error-dismiss").addEventListener("click", () => { byId("error-banner").hidden = true; });
    this.modelSelect.addEventListener("change", () => {
      this.settings.model = this.modelSelect.value;
      store.saveSettings(this.settings);
    });
    byId("theme-toggle").addEventListener("click", () => {
      this.settings.theme = nextTheme();
      store.saveSettings(this.settings);
      applyTheme(this.settings.theme);
    });
    byId("open-settings").addEventListener("click", async () => {
      const edited = await editSettings(this.settings);
      if (!edited) return;
      const keyChanged = edited.api_key !== this.settings.api_key;
      this.settings = edited;
      store.saveSettings(this.settings);
      if (keyChanged) void this.loadModels();
    });
    byId<HTMLFormElement>("key-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.settings.api_key = byId<HTMLInputElement>("key-input").value.trim();
      store.saveSettings(this.settings);
      void this.loadModels();
    });
  }
}
