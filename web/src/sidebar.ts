// The conversation list: open, rename (inline), delete (click twice) and export one
// conversation as JSON.

import type { Conversation } from "./types";

export interface SidebarActions {
  open(id: string): void;
  rename(id: string, title: string): void;
  remove(id: string): void;
  exportOne(id: string): void;
}

function button(action: string, text: string, label: string): HTMLButtonElement {
  const node = document.createElement("button");
  node.type = "button";
  node.className = "icon-button";
  node.dataset.action = action;
  node.textContent = text;
  node.setAttribute("aria-label", label);
  node.title = label;
  return node;
}

function startRename(item: HTMLLIElement, conversation: Conversation, actions: SidebarActions): void {
  const input = document.createElement("input");
  input.className = "rename-box";
  input.value = conversation.title;
  input.setAttribute("aria-label", "New title");
  item.querySelector(".title")!.replaceWith(input);
  input.focus();
  input.select();
  let done = false;
  const finish = (commit: boolean) => {
    if (done) return;
    done = true;
    const title = input.value.trim();
    actions.rename(conversation.id, commit && title ? title : conversation.title);
  };
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter") finish(true);
    else if (event.key === "Escape") finish(false);
  });
  input.addEventListener("blur", () => finish(true));
}

function confirmDelete(target: HTMLButtonElement, id: string, actions: SidebarActions): void {
  if (target.dataset.armed === "true") {
    actions.remove(id);
    return;
  }
  target.dataset.armed = "true";
  target.textContent = "Delete?";
  setTimeout(() => {
    target.dataset.armed = "false";
    target.textContent = "✕";
  }, 3000);
}

function listItem(conversation: Conversation, active: boolean, actions: SidebarActions): HTMLLIElement {
  const item = document.createElement("li");
  item.className = active ? "conversation active" : "conversation";
  item.dataset.id = conversation.id;
  const title = document.createElement("button");
  title.type = "button";
  title.className = "title";
  title.textContent = conversation.title;
  title.addEventListener("click", () => actions.open(conversation.id));
  const rename = button("rename", "✎", "Rename");
  rename.addEventListener("click", () => startRename(item, conversation, actions));
  const exportButton = button("export", "⤓", "Export as JSON");
  exportButton.addEventListener("click", () => actions.exportOne(conversation.id));
  const remove = button("delete", "✕", "Delete");
  remove.addEventListener("click", () => confirmDelete(remove, conversation.id, actions));
  item.append(title, rename, exportButton, remove);
  return item;
}

export function drawSidebar(list: HTMLElement, conversations: Conversation[], activeId: string | null,
  actions: SidebarActions): void {
  list.replaceChildren(...conversations.map((c) => listItem(c, c.id === activeId, actions)));
}
