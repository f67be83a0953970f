// HTTP(S) for the device client over node:http/https, so a private CA (`--ca`) can be trusted per client with keep-alive.
import { Agent as HTTPAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HTTPSAgent, request as httpsRequest } from "node:https";
import { rootCertificates } from "node:tls";
import { TwofoldError } from "../core/errors.ts";

export interface TransportOptions {
  /**
   * Extra PEM certificates to trust, besides the system store and NODE_EXTRA_CA_CERTS (node reads that at
   * start for every TLS connection).
   */
  ca?: string;
  /** Time allowed to connect and to receive the response headers. */
  timeoutMs?: number;
}

export interface TransportRequest {
  method: "GET" | "POST" | "PUT";
  url: URL;
  headers?: Record<string, string>;
  body?: Uint8Array;
  signal?: AbortSignal;
}

/** A response whose body has not been read: `body` is the stream (a live event stream never ends by itself). */
export interface TransportResponse {
  status: number;
  contentType: string;
  body: IncomingMessage;
}

export interface Transport {
  request(r: TransportRequest): Promise<TransportResponse>;
  /** Close idle keep-alive connections. */
  close(): void;
}

const MAX_BODY_BYTES = 1024 * 1024;

export function createTransport(options: TransportOptions = {}): Transport {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const http = new HTTPAgent({ keepAlive: true });
  // With `ca` set, node trusts only those certificates: the bundled roots are added back so a server with a
  // public certificate still verifies when --ca is given.
  const https = new HTTPSAgent({
    keepAlive: true,
    ...(options.ca ? { ca: [...rootCertificates, options.ca] } : {}),
  });
  return {
    request(r) {
      const secure = r.url.protocol === "https:";
      if (!secure && r.url.protocol !== "http:")
        return Promise.reject(new TwofoldError("ERR_VALIDATION", `unsupported URL scheme ${r.url.protocol}`));
      const send = secure ? httpsRequest : httpRequest;
      return new Promise<TransportResponse>((resolve, reject) => {
        const headers: Record<string, string> = { ...r.headers };
        if (r.body) headers["content-length"] = String(r.body.length);
        const req = send(r.url, {
          method: r.method,
          headers,
          agent: secure ? https : http,
          ...(r.signal ? { signal: r.signal } : {}),
        });
        const timer = setTimeout(() => req.destroy(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs);
        req.once("response", (res) => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, contentType: res.headers["content-type"] ?? "", body: res });
        });
        req.once("error", (cause: NodeJS.ErrnoException) => {
          clearTimeout(timer);
          if (cause.name === "AbortError") return reject(cause);
          reject(
            new TwofoldError(
              "ERR_SERVER_UNREACHABLE",
              `cannot reach ${r.url.origin}: ${describeNetworkError(cause)}`,
              { cause },
            ),
          );
        });
        req.end(r.body ? Buffer.from(r.body) : undefined);
      });
    },
    close() {
      http.destroy();
      https.destroy();
    },
  };
}

/** The whole body as text, refusing more than 1 MiB (a device API answer is a few kilobytes). */
export async function readBody(body: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) {
      body.destroy();
      throw new TwofoldError("ERR_PAYLOAD_TOO_LARGE", "the server's answer is larger than 1 MiB");
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function describeNetworkError(e: NodeJS.ErrnoException): string {
  switch (e.code) {
    case "ECONNREFUSED":
      return "connection refused (is the server running?)";
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return "host name not found";
    case "UNABLE_TO_VERIFY_LEAF_SIGNATURE":
    case "UNABLE_TO_GET_ISSUER_CERT_LOCALLY":
    case "SELF_SIGNED_CERT_IN_CHAIN":
    case "DEPTH_ZERO_SELF_SIGNED_CERT":
      return `its TLS certificate is not trusted (${e.code}); give the CA with --ca FILE or NODE_EXTRA_CA_CERTS`;
    case "ERR_TLS_CERT_ALTNAME_INVALID":
      return "its TLS certificate is for another host name";
    default:
      return e.message;
  }
}
