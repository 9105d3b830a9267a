// The settings dialog (system prompt, sampling, API key) and the colour theme.

import type { Settings } from "./types";

function byId<T extends HTMLElement>(id: string): T {
  return document.getElementById(id) as T;
}

/** Empty input -> null (let the server choose); otherwise the number typed. */
function numberOrNull(input: HTMLInputElement): number | null {
  if (input.value.trim() === "") return null;
  const value = Number(input.value);
  return Number.isFinite(value) ? value : null;
}

function showNumber(input: HTMLInputElement, value: number | null): void {
  input.value = value === null ? "" : String(value);
}

/** Opens the dialog on `settings`; resolves with the edited copy, or null on cancel. */
export function editSettings(settings: Settings): Promise<Settings | null> {
  const dialog = byId<HTMLDialogElement>("settings-dialog");
  const system = byId<HTMLTextAreaElement>("set-system");
  const temperature = byId<HTMLInputElement>("set-temperature");
  const topP = byId<HTMLInputElement>("set-top-p");
  const maxTokens = byId<HTMLInputElement>("set-max-tokens");
  const seed = byId<HTMLInputElement>("set-seed");
  const apiKey = byId<HTMLInputElement>("set-api-key");
  system.value = settings.system_prompt;
  showNumber(temperature, settings.temperature);
  showNumber(topP, settings.top_p);
  showNumber(maxTokens, settings.max_tokens);
  showNumber(seed, settings.seed);
  apiKey.value = settings.api_key;
  return new Promise((resolve) => {
    const cancel = byId<HTMLButtonElement>("settings-cancel");
    const onCancel = () => dialog.close("cancel");
    cancel.addEventListener("click", onCancel);
    dialog.addEventListener("close", () => {
      cancel.removeEventListener("click", onCancel);
      if (dialog.returnValue !== "save") {
        resolve(null);
        return;
      }
      resolve({
        ...settings,
        system_prompt: system.value,
        temperature: numberOrNull(temperature),
        top_p: numberOrNull(topP),
        max_tokens: numberOrNull(maxTokens),
        seed: numberOrNull(seed),
        api_key: apiKey.value.trim(),
      });
    }, { once: true });
    dialog.returnValue = "";
    dialog.showModal();
  });
}

/** Sets data-theme on <html>; "auto" follows the system's preference. */
export function applyTheme(theme: Settings["theme"]): void {
  const dark = theme === "dark" || (theme === "auto" && matchMedia("(prefers-color-scheme: dark)").matches);
  document.documentElement.dataset.theme = dark ? "dark" : "light";
}

export function nextTheme(): Settings["theme"] {
  return document.documentElement.dataset.theme === "dark" ? "light" : "dark";
}
