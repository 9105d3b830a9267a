// Conversations and settings live in this browser's localStorage (a few MB is plenty
// for text chats; nothing leaves the browser except the requests to the server).
// Each conversation is one key, so saving a streamed reply rewrites only its own.

import type { Conversation, Settings } from "./types";

const INDEX_KEY = "moxie.conversations";
const CONVERSATION_PREFIX = "moxie.conversation.";
const SETTINGS_KEY = "moxie.settings";

export const DEFAULT_SETTINGS: Settings = {
  system_prompt: "",
  temperature: null,
  top_p: null,
  max_tokens: null,
  seed: null,
  api_key: "",
  theme: "auto",
  model: "",
};

function readJson<T>(key: string): T | null {
  const text = localStorage.getItem(key);
  if (text === null) return null;
  try {
    return JSON.parse(text) as T;
  } catch {
    return null; // A damaged entry is treated as absent rather than breaking the page.
  }
}

export function loadSettings(): Settings {
  return { ...DEFAULT_SETTINGS, ...(readJson<Partial<Settings>>(SETTINGS_KEY) ?? {}) };
}

export function saveSettings(settings: Settings): void {
  localStorage.setItem(SETTINGS_KEY, JSON.stringify(settings));
}

function conversationIds(): string[] {
  const ids = readJson<string[]>(INDEX_KEY);
  return Array.isArray(ids) ? ids : [];
}

/** Every stored conversation, most recently updated first. */
export function loadConversations(): Conversation[] {
  const conversations: Conversation[] = [];
  for (const id of conversationIds()) {
    const conversation = readJson<Conversation>(CONVERSATION_PREFIX + id);
    if (conversation && Array.isArray(conversation.messages)) conversations.push(conversation);
  }
  return conversations.sort((a, b) => b.updated_ms - a.updated_ms);
}

export function saveConversation(conversation: Conversation): void {
  localStorage.setItem(CONVERSATION_PREFIX + conversation.id, JSON.stringify(conversation));
  const ids = conversationIds();
  if (!ids.includes(conversation.id)) localStorage.setItem(INDEX_KEY, JSON.stringify([...ids, conversation.id]));
}

export function deleteConversation(id: string): void {
  localStorage.removeItem(CONVERSATION_PREFIX + id);
  localStorage.setItem(INDEX_KEY, JSON.stringify(conversationIds().filter((other) => other !== id)));
}

export function newConversation(model: string): Conversation {
  const now = Date.now();
  const id = typeof crypto.randomUUID === "function"
    ? crypto.randomUUID()
    : `${now.toString(36)}-${Math.random().toString(36).slice(2)}`;
  return { id, title: "New chat", created_ms: now, updated_ms: now, model, messages: [] };
}

/** Offers conversations as a JSON file download (the Blob URL is same-origin). */
export function downloadJson(fileName: string, value: unknown): void {
  const blob = new Blob([JSON.stringify(value, null, 2)], { type: "application/json" });
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = fileName;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
