// Answers requests Node's HTTP parser rejects before Fastify sees them (oversized headers, slow clients, garbage).
import type { Socket } from "node:net";
import type { FastifyBaseLogger } from "fastify";
import { SECURITY_HEADERS } from "./security-headers.ts";

const ANSWERS: Readonly<Record<string, { status: string; code: string; message: string }>> = {
  HPE_HEADER_OVERFLOW: {
    status: "431 Request Header Fields Too Large",
    code: "ERR_VALIDATION",
    message: "The request headers are too large.",
  },
  // The same code as a body that is still arriving when the handler's time is up (src/http/errors.ts).
  ERR_HTTP_REQUEST_TIMEOUT: {
    status: "408 Request Timeout",
    code: "ERR_REQUEST_TIMEOUT",
    message: "The request took too long to arrive.",
  },
};
const BAD_REQUEST = {
  status: "400 Bad Request",
  code: "ERR_VALIDATION",
  message: "The request is not valid.",
};

/** Same body shape and headers as every other error; the connection is closed afterwards (H-1: slowloris, 16 kB headers). */
export function createClientErrorHandler(log: FastifyBaseLogger) {
  return (error: Error & { code?: string }, socket: Socket): void => {
    // A connection that never sent a byte (a browser's preconnect, a load balancer's probe) is closed quietly:
    // an unsolicited 408 would be read as the answer to the next request sent on it (RFC 9110 §15.5.9).
    const idle = error.code === "ERR_HTTP_REQUEST_TIMEOUT" && socket.bytesRead === 0;
    if (error.code === "ECONNRESET" || idle || !socket.writable) {
      socket.destroy();
      return;
    }
    const answer = ANSWERS[error.code ?? ""] ?? BAD_REQUEST;
    // `errorCode`, not `code`: the logger redacts keys named `code` (passcodes).
    log.info({ errorCode: error.code, status: answer.status }, "client error");
    const body = JSON.stringify({ error: { code: answer.code, message: answer.message } });
    const headers = [
      `HTTP/1.1 ${answer.status}`,
      "Content-Type: application/json; charset=utf-8",
      `Content-Length: ${Buffer.byteLength(body)}`,
      "Cache-Control: no-store",
      "Connection: close",
      ...Object.entries(SECURITY_HEADERS).map(([k, v]) => `${k}: ${v}`),
    ];
    socket.end(`${headers.join("\r\n")}\r\n\r\n${body}`);
  };
}
