// Shapes shared by the page's modules: what is stored per conversation and what the
// OpenAI-compatible server returns (only the fields the page reads).

export type Role = "system" | "user" | "assistant";

/** Token counts and price of one reply, as the server reported them in `usage`. */
export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number };
  /** moxie's extension: the price of this request. */
  cost?: { currency: string; nanodollars: number };
}

/** Per-reply measurements the page takes itself. */
export interface Timing {
  /** From sending the request to the first streamed token, in milliseconds. */
  first_token_ms?: number;
  /** From the first streamed token to the end of the stream, in milliseconds. */
  generation_ms?: number;
}

export interface ChatMessage {
  role: Role;
  content: string;
  /** Reasoning text that arrived in `reasoning_content` deltas (kept apart from content). */
  reasoning?: string;
  model?: string;
  usage?: Usage;
  timing?: Timing;
  /** Set when the user pressed Stop before the reply ended. */
  stopped?: boolean;
  /** A readable error that ended this reply. */
  error?: string;
}

export interface Conversation {
  id: string;
  title: string;
  created_ms: number;
  updated_ms: number;
  model?: string;
  messages: ChatMessage[];
}

/** Per-model prices from moxie's `/v1/models` extension, decimal strings in USD. */
export interface Pricing {
  input_per_million_usd?: string;
  cached_input_per_million_usd?: string;
  output_per_million_usd?: string;
}

export interface ModelInfo {
  id: string;
  owned_by?: string;
  pricing?: Pricing;
}

export interface Settings {
  system_prompt: string;
  temperature: number | null;
  top_p: number | null;
  max_tokens: number | null;
  seed: number | null;
  api_key: string;
  theme: "light" | "dark" | "auto";
  model: string;
}
