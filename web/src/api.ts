// Talks to the OpenAI-compatible server that served this page (same origin, so the
// strict Content-Security-Policy's `connect-src 'self'` allows it).

import { SseParser } from "./sse";
import type { ModelInfo, Usage } from "./types";

/** A failed request, with a message written for people rather than programs. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly retryAfterS: number | null = null,
  ) {
    super(message);
  }
}

function authHeaders(apiKey: string): Record<string, string> {
  return apiKey ? { Authorization: `Bearer ${apiKey}` } : {};
}

/** Seconds from a Retry-After header: either a number of seconds or an HTTP date. */
export function parseRetryAfter(value: string | null): number | null {
  if (!value) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.ceil(seconds);
  const date = Date.parse(value);
  if (Number.isNaN(date)) return null;
  return Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

/** Turns an HTTP status and OpenAI-shaped error body into one readable sentence. */
export function describeHttpError(status: number, serverMessage: string, retryAfterS: number | null): string {
  const detail = serverMessage ? ` (${serverMessage})` : "";
  switch (status) {
    case 401:
      return `The server refused the API key: enter a valid key in Settings.${detail}`;
    case 402:
      return `Budget exhausted: this key has no credit left.${detail}`;
    case 403:
      return `This key may not use that model or endpoint.${detail}`;
    case 404:
      return `Not found: the server does not offer this model or endpoint.${detail}`;
    case 429: {
      const wait = retryAfterS !== null ? ` Try again in ${retryAfterS} s.` : " Try again shortly.";
      return `Rate limited: too many requests.${wait}${detail}`;
    }
    case 503:
      return `The server is busy or not ready (503). Try again in a moment.${detail}`;
    default:
      if (status >= 500) return `The server failed with HTTP ${status}.${detail}`;
      return `The request was rejected with HTTP ${status}.${detail}`;
  }
}

async function errorFrom(response: Response): Promise<ApiError> {
  let serverMessage = "";
  try {
    const body = (await response.json()) as { error?: { message?: string } };
    serverMessage = body?.error?.message ?? "";
  } catch {
    // Not JSON: the status alone has to do.
  }
  const retryAfterS = parseRetryAfter(response.headers.get("Retry-After"));
  return new ApiError(response.status, describeHttpError(response.status, serverMessage, retryAfterS), retryAfterS);
}

const UNREACHABLE = "Cannot reach the server: is `moxie serve` still running?";

async function request(path: string, init: RequestInit): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    if ((error as Error).name === "AbortError") throw error;
    throw new ApiError(0, UNREACHABLE);
  }
  if (!response.ok) throw await errorFrom(response);
  return response;
}

export async function listModels(apiKey: string): Promise<ModelInfo[]> {
  const response = await request("/v1/models", { headers: authHeaders(apiKey) });
  const body = (await response.json()) as { data?: ModelInfo[] };
  return Array.isArray(body.data) ? body.data : [];
}

export interface ChatRequest {
  model: string;
  messages: { role: string; content: string }[];
  temperature?: number;
  top_p?: number;
  max_tokens?: number;
  seed?: number;
}

/** What one streamed reply delivers, in order, to its caller. */
export interface StreamHandlers {
  onContent(text: string): void;
  onReasoning(text: string): void;
  onUsage(usage: Usage): void;
  onModel(model: string): void;
}

interface StreamChunk {
  model?: string;
  choices?: { delta?: { content?: string | null; reasoning_content?: string | null } }[];
  usage?: Usage | null;
  error?: { message?: string };
}

function dispatchChunk(payload: string, handlers: StreamHandlers): void {
  const chunk = JSON.parse(payload) as StreamChunk;
  if (chunk.error) throw new ApiError(500, `The server stopped the reply: ${chunk.error.message ?? "unknown error"}`);
  if (chunk.model) handlers.onModel(chunk.model);
  const delta = chunk.choices?.[0]?.delta;
  if (delta?.reasoning_content) handlers.onReasoning(delta.reasoning_content);
  if (delta?.content) handlers.onContent(delta.content);
  if (chunk.usage) handlers.onUsage(chunk.usage);
}

/** Streams one chat completion; resolves when the server sends [DONE] or closes. */
export async function streamChat(
  body: ChatRequest,
  apiKey: string,
  signal: AbortSignal,
  handlers: StreamHandlers,
): Promise<void> {
  const response = await request("/v1/chat/completions", {
    method: "POST",
    headers: { "Content-Type": "application/json", ...authHeaders(apiKey) },
    body: JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } }),
    signal,
  });
  if (!response.body) throw new ApiError(response.status, "The server sent an empty reply.");
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  const parser = new SseParser();
  for (;;) {
    let step: ReadableStreamReadResult<string>;
    try {
      step = await reader.read();
    } catch (error) {
      if ((error as Error).name === "AbortError") throw error;
      throw new ApiError(0, "The connection to the server broke off mid-reply.");
    }
    const payloads = step.done ? parser.finish() : parser.push(step.value);
    for (const payload of payloads) {
      if (payload === "[DONE]") return;
      dispatchChunk(payload, handlers);
    }
    if (step.done) return;
  }
}
