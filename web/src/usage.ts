// Per-reply figures shown under each answer: tokens in (cached), tokens out, decode
// speed and price. The price is the server's own `usage.cost` when it sends one;
// otherwise an estimate from the model's `pricing` in /v1/models, marked with "≈".

import type { Pricing, Timing, Usage } from "./types";

const NANO_PER_UNIT = 1_000_000_000n;

/** Exact decimal text of an amount in nano-units: 12345 -> "0.000012345". */
export function formatNanos(nanos: number): string {
  const value = BigInt(Math.round(nanos));
  const sign = value < 0n ? "-" : "";
  const magnitude = value < 0n ? -value : value;
  const whole = magnitude / NANO_PER_UNIT;
  const fraction = (magnitude % NANO_PER_UNIT).toString().padStart(9, "0").replace(/0+$/, "");
  return `${sign}${whole}${fraction ? "." + fraction : ""}`;
}

function formatMoney(amount: string, currency: string): string {
  return currency === "USD" ? `$${amount}` : `${amount} ${currency}`;
}

/** Price in nano-dollars estimated from per-million-token prices (decimal strings). */
export function estimateNanodollars(usage: Usage, pricing: Pricing): number | null {
  const rate = (text: string | undefined): number | null => {
    if (text === undefined) return null;
    const value = Number(text);
    return Number.isFinite(value) ? value : null;
  };
  const input = rate(pricing.input_per_million_usd);
  const output = rate(pricing.output_per_million_usd);
  if (input === null || output === null) return null;
  const cachedRate = rate(pricing.cached_input_per_million_usd) ?? input;
  const cached = usage.prompt_tokens_details?.cached_tokens ?? 0;
  const uncached = Math.max(0, usage.prompt_tokens - cached);
  // USD per million tokens == nano-dollars per token / 1000.
  return (uncached * input + cached * cachedRate + usage.completion_tokens * output) * 1000;
}

/** Decode speed: tokens after the first over the time after the first arrived. */
export function tokensPerSecond(usage: Usage, timing: Timing | undefined): number | null {
  const ms = timing?.generation_ms;
  if (!ms || ms <= 0 || usage.completion_tokens < 2) return null;
  return (usage.completion_tokens - 1) / (ms / 1000);
}

export interface UsageFigure {
  /** Stable name for tests and styling: tokens-in, tokens-out, speed, cost. */
  name: string;
  text: string;
  title: string;
}

export function usageFigures(usage: Usage, timing: Timing | undefined, pricing: Pricing | undefined): UsageFigure[] {
  const cached = usage.prompt_tokens_details?.cached_tokens;
  const figures: UsageFigure[] = [
    {
      name: "tokens-in",
      text: `${usage.prompt_tokens} in` + (cached ? ` (${cached} cached)` : ""),
      title: "Prompt tokens (of which served from the prompt cache)",
    },
    { name: "tokens-out", text: `${usage.completion_tokens} out`, title: "Completion tokens" },
  ];
  const speed = tokensPerSecond(usage, timing);
  if (speed !== null) {
    figures.push({ name: "speed", text: `${speed.toFixed(1)} tok/s`, title: "Decode speed after the first token" });
  }
  if (usage.cost) {
    const text = formatMoney(formatNanos(usage.cost.nanodollars), usage.cost.currency);
    figures.push({ name: "cost", text, title: "Price charged by the server for this reply" });
  } else if (pricing) {
    const nanos = estimateNanodollars(usage, pricing);
    if (nanos !== null) {
      const text = "≈ " + formatMoney(formatNanos(Math.round(nanos)), "USD");
      figures.push({ name: "cost", text, title: "Estimated from the model's published prices" });
    }
  }
  return figures;
}
