// A Twofold with TLS, a Web SDK application registered on it, the application's own HTTPS callback, and Duo's Node SDK pointed at both.
import { readFileSync } from "node:fs";
import https, { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { Client } from "@duosecurity/duo_universal";
import duoWeb from "@duosecurity/duo_web";
import { ADMIN } from "../http/support.ts";
import { type DuoTestServer, startDuoTestServer } from "./duo-server.ts";
import type { DialectName } from "./stores.ts";

export interface CallbackHit {
  path: string;
  query: URLSearchParams;
}

/** The application's side: its HTTPS server with the callback the prompt redirects to. */
export interface TestApplication {
  ikey: string;
  skey: string;
  /** `https://localhost:PORT/callback`, registered with the application. */
  redirectUri: string;
  origin: string;
  /** Every callback the browser arrived at, in order. */
  hits: CallbackHit[];
  /** Web SDK v2: the application key (akey) its pages sign with, and what verify_response said of each post-back. */
  akey: string;
  v2Results: Array<string | null>;
  /** Resolves with the next callback whose state is `state`. */
  callback(state: string, timeoutMs?: number): Promise<URLSearchParams>;
}

export interface PromptTestServer {
  duo: DuoTestServer;
  app: TestApplication;
  /** `new Client(...)` from @duosecurity/duo_universal 3.0.0, trusting the test CA (its documented override). */
  sdk(options?: { redirectUrl?: string; clientId?: string; clientSecret?: string }): Client;
  /** An HTTPS request to Twofold trusting the test CA; bodies are forms. */
  request(
    method: string,
    path: string,
    options?: { form?: Record<string, string>; headers?: Record<string, string> },
  ): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>;
  close(): Promise<void>;
}

const DUO_WEB_JS = readFileSync(
  join(import.meta.dirname, "../../node_modules/@duosecurity/duo_web/js/Duo-Web-v2.js"),
  "utf8",
);
/** The application's own key for duo_web's APP signature (≥ 40 characters). */
const AKEY = "a".repeat(20) + "0123456789abcdefghij";

export async function startPromptServer(
  /** `port`: a fixed one, for what needs the origin before the server starts (WebAuthn's default origins). */
  options: { dialect?: DialectName; name?: string; port?: number; overrides?: Record<string, unknown> } = {},
): Promise<PromptTestServer> {
  const duo = await startDuoTestServer({
    ...(options.dialect ? { dialect: options.dialect } : {}),
    ...(options.port ? { port: options.port } : {}),
    ...(options.overrides ? { overrides: options.overrides } : {}),
  });
  const ca = readFileSync(duo.certificates.ca);
  const hits: CallbackHit[] = [];
  const waiters: Array<{ state: string; resolve: (q: URLSearchParams) => void }> = [];
  const appServer: Server = createServer(
    { cert: readFileSync(duo.certificates.cert), key: readFileSync(duo.certificates.key) },
    (req, res) => {
      const url = new URL(req.url ?? "/", "https://localhost");
      // Web SDK v2 (duo_web): a page framing the prompt, Duo's own script, and the post-back it verifies.
      if (url.pathname === "/Duo-Web-v2.js") {
        res.writeHead(200, { "content-type": "text/javascript" });
        res.end(DUO_WEB_JS);
        return;
      }
      if (url.pathname === "/v2") {
        const sig = duoWeb.sign_request(app.ikey, app.skey, AKEY, url.searchParams.get("user") ?? "");
        res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
        res.end(`<!doctype html><html lang="en"><title>Campus Portal (v2)</title><main><h1>Campus Portal</h1>
<script src="/Duo-Web-v2.js"></script>
<iframe id="duo_iframe" title="Two-factor authentication" width="620" height="500" data-host="${duo.host}" data-sig-request="${sig}" data-post-action="/v2-result"></iframe></main></html>`);
        return;
      }
      if (url.pathname === "/v2-result" && req.method === "POST") {
        let body = "";
        req.on("data", (c: Buffer) => {
          body += c.toString();
        });
        req.on("end", () => {
          const verified = duoWeb.verify_response(
            app.ikey,
            app.skey,
            AKEY,
            new URLSearchParams(body).get("sig_response") ?? "",
          );
          app.v2Results.push(verified);
          res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
          res.end(
            `<!doctype html><html lang="en"><title>Result</title><main><h1 id="v2-result">${verified ? `Verified: ${verified}` : "Not verified"}</h1></main></html>`,
          );
        });
        return;
      }
      hits.push({ path: url.pathname, query: url.searchParams });
      const state = url.searchParams.get("state") ?? "";
      for (let i = waiters.length - 1; i >= 0; i--)
        if (waiters[i]!.state === state) waiters.splice(i, 1)[0]!.resolve(url.searchParams);
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      res.end(
        '<!doctype html><html lang="en"><title>Campus Portal</title><main><h1>Campus Portal</h1><p>Back from the login.</p></main></html>',
      );
    },
  );
  await new Promise<void>((resolve) => appServer.listen(0, "localhost", resolve));
  const appPort = (appServer.address() as AddressInfo).port;
  const origin = `https://localhost:${appPort}`;
  const redirectUri = `${origin}/callback`;
  // This application remembers no browsers (the trusted-browser test registers one that does).
  const created = await duo.t.runtime.services.createApplication(ADMIN, {
    name: options.name ?? "Campus Portal",
    type: "web-sdk",
    redirectURIs: [redirectUri],
    policy: { rememberDays: 0 },
  });
  const app: TestApplication = {
    ikey: created.application.id,
    skey: created.secretKey.reveal(),
    redirectUri,
    origin,
    hits,
    akey: AKEY,
    v2Results: [],
    callback(state, timeoutMs = 30_000) {
      const seen = hits.find((h) => h.query.get("state") === state);
      if (seen) return Promise.resolve(seen.query);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no callback for state ${state}`)), timeoutMs);
        waiters.push({
          state,
          resolve: (q) => {
            clearTimeout(timer);
            resolve(q);
          },
        });
      });
    },
  };
  const agent = new https.Agent({ ca });
  return {
    duo,
    app,
    sdk(o = {}) {
      const client = new Client({
        clientId: o.clientId ?? app.ikey,
        clientSecret: o.clientSecret ?? app.skey,
        apiHost: duo.host,
        redirectUrl: o.redirectUrl ?? redirectUri,
      });
      // duo-compat §7.4: the client pins Duo's CAs; replacing its agent is the documented runtime override.
      (client as unknown as { axios: { defaults: { httpsAgent: unknown } } }).axios.defaults.httpsAgent =
        new https.Agent({ ca });
      return client;
    },
    request(method, path, o = {}) {
      const body = o.form ? new URLSearchParams(o.form).toString() : undefined;
      return new Promise((resolve, reject) => {
        const req = https.request(
          `https://${duo.host}${path}`,
          {
            method,
            agent,
            headers: {
              ...(body !== undefined ? { "content-type": "application/x-www-form-urlencoded" } : {}),
              ...o.headers,
            },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () =>
              resolve({
                status: res.statusCode ?? 0,
                headers: res.headers,
                body: Buffer.concat(chunks).toString("utf8"),
              }),
            );
          },
        );
        req.on("error", reject);
        req.end(body);
      });
    },
    async close() {
      agent.destroy();
      await new Promise<void>((resolve) => appServer.close(() => resolve()));
      appServer.closeAllConnections();
      await duo.close();
    },
  };
}
