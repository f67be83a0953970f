// A text/event-stream parser (WHATWG HTML §9.2.6 "Interpreting an event stream"), fed chunk by chunk.

export interface ServerSentEvent {
  /** The `event:` field; "message" when none was given. */
  type: string;
  data: string;
  id: string | undefined;
}

/**
 * Returns a function to feed decoded text into; it calls `onEvent` for each complete event. Lines end in
 * CRLF, LF or CR; a line starting with ":" is a comment (keep-alive); an empty line dispatches the event,
 * and an event with no data is dropped, as the spec says.
 */
export function createEventStreamParser(onEvent: (event: ServerSentEvent) => void): (text: string) => void {
  let buffer = "";
  let type = "";
  let data: string[] = [];
  let id: string | undefined;
  // A CR at the end of a chunk may be the first half of a CRLF split across chunks.
  let pendingCR = false;

  const dispatch = () => {
    if (data.length > 0) onEvent({ type: type || "message", data: data.join("\n"), id });
    type = "";
    data = [];
  };

  const processLine = (line: string) => {
    if (line === "") return dispatch();
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") type = value;
    else if (field === "data") data.push(value);
    else if (field === "id" && !value.includes("\0")) id = value;
    // `retry` and unknown fields are ignored: the caller decides how to reconnect.
  };

  return (text) => {
    let chunk = text;
    if (pendingCR && chunk.startsWith("\n")) chunk = chunk.slice(1);
    pendingCR = false;
    buffer += chunk;
    for (;;) {
      const m = /\r\n|\r|\n/.exec(buffer);
      if (!m) break;
      if (m[0] === "\r" && m.index === buffer.length - 1) {
        pendingCR = true;
      }
      processLine(buffer.slice(0, m.index));
      buffer = buffer.slice(m.index + m[0].length);
    }
  };
}
