// Server-sent events parser for streamed chat completions: bytes arrive in arbitrary
// chunks, events end with a blank line, each `data:` line carries one JSON chunk or
// the final `[DONE]`. Only `data` fields matter to OpenAI streams; comments (": ...")
// and other fields are skipped.

export class SseParser {
  private buffer = "";
  private data: string[] = [];

  /** Feeds decoded text; returns the data payloads of every event completed by it. */
  push(text: string): string[] {
    this.buffer += text;
    const events: string[] = [];
    let newline: number;
    while ((newline = this.buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = this.buffer.slice(0, newline);
      const width = this.buffer.startsWith("\r\n", newline) ? 2 : 1;
      // A lone "\r" at the end may be the first half of "\r\n": wait for more text.
      if (width === 1 && this.buffer[newline] === "\r" && newline === this.buffer.length - 1) break;
      this.buffer = this.buffer.slice(newline + width);
      this.takeLine(line, events);
    }
    return events;
  }

  /** Ends the stream: an event left without its blank line still counts. */
  finish(): string[] {
    const events: string[] = [];
    if (this.buffer.length > 0) this.takeLine(this.buffer, events);
    this.buffer = "";
    this.takeLine("", events);
    return events;
  }

  private takeLine(line: string, events: string[]): void {
    if (line === "") {
      if (this.data.length > 0) events.push(this.data.join("\n"));
      this.data = [];
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
  }
}
