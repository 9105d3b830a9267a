// Reasoning models (Qwen3, DeepSeek-R1) write their thoughts between <think> and
// </think> before the answer. Some chat templates open the tag inside the prompt, so
// the reply holds only the closing tag. The split runs on the whole text so far on
// every streamed delta, so it must accept a reply that stops anywhere.

export interface ThinkSplit {
  reasoning: string;
  answer: string;
  /** True while the reasoning is still being written (no closing tag yet). */
  open: boolean;
}

const OPEN = "<think>";
const CLOSE = "</think>";

export function splitThink(text: string): ThinkSplit {
  const leading = text.length - text.trimStart().length;
  if (text.startsWith(OPEN, leading)) {
    const body = text.slice(leading + OPEN.length);
    const close = body.indexOf(CLOSE);
    if (close < 0) return { reasoning: body.trim(), answer: "", open: true };
    return { reasoning: body.slice(0, close).trim(), answer: body.slice(close + CLOSE.length).trimStart(), open: false };
  }
  const close = text.indexOf(CLOSE);
  if (close >= 0) {
    return { reasoning: text.slice(0, close).trim(), answer: text.slice(close + CLOSE.length).trimStart(), open: false };
  }
  return { reasoning: "", answer: text, open: false };
}
