// A Duo Auth API client for load generators: signed requests (the Duo SDK's own signing), HOTP codes, keep-alive sends.
import { createHmac } from "node:crypto";
import http from "node:http";
import https from "node:https";
import { sign } from "@duosecurity/duo_api/lib/duo_sig.js";

export interface RequestOptions {
  port: number;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

/**
 * RFC 4226 §5.3: HMAC-SHA-1 over the 8-byte counter, dynamic truncation, modulo 10^6. Written out here (not the
 * server's generator) so that the load's codes do not depend on the code under test.
 */
export function generateHOTP(key: Buffer, counter: number): string {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac("sha1", key).update(message).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, "0");
}

/** A freshly signed Auth API call to 127.0.0.1:port (signature v2 over the real Date, duo-compat §1.2–§1.3). */
export function signedRequest(
  credentials: { ikey: string; skey: string },
  method: "GET" | "POST",
  port: number,
  path: string,
  params: Record<string, string>,
): RequestOptions {
  const host = `127.0.0.1:${port}`;
  const date = new Date().toUTCString();
  const body = new URLSearchParams(params).toString();
  const headers: Record<string, string> = {
    Host: host,
    Date: date,
    Authorization: sign(credentials.ikey, credentials.skey, method, host, path, params, date),
  };
  if (method === "POST") headers["Content-Type"] = "application/x-www-form-urlencoded";
  return method === "POST"
    ? { port, method, path, headers, body }
    : { port, method, path: body ? `${path}?${body}` : path, headers };
}

/** One request on a keep-alive agent to 127.0.0.1; resolves with the status and the whole body. */
export function send(
  agent: http.Agent,
  tls: boolean,
  options: RequestOptions,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = (tls ? https : http).request(
      { agent, host: "127.0.0.1", port: options.port, method: options.method, path: options.path },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () =>
          resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
        );
        response.on("error", reject);
      },
    );
    request.on("error", reject);
    for (const [name, value] of Object.entries(options.headers)) request.setHeader(name, value);
    request.end(options.body);
  });
}
