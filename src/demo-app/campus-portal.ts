// "Campus Portal": the demo's web application. A username/password page that adds the second factor through Duo's official
// Node SDK (@duosecurity/duo_universal) exactly as a real application does; it knows Twofold only as the SDK's API host.
import https from "node:https";
import type { AddressInfo } from "node:net";
import { Client } from "@duosecurity/duo_universal";
import { Type as T } from "@sinclair/typebox";
import fastify, { type FastifyReply, type FastifyRequest } from "fastify";
import { Page } from "../../web/shared/components/page.tsx";
import { html, renderDocument, type SafeHTML } from "../../web/shared/jsx/html.ts";
import { constantTimeEqual, randomHex } from "../core/crypto/index.ts";

export interface CampusPortalOptions {
  host: string;
  port: number;
  /** Twofold as the SDK reaches it: `apiHost` (host:port of an HTTPS listener) and the CA that signed it. */
  apiHost: string;
  ca: Buffer;
  /**
   * Where the browser is sent for the prompt, when it differs from `https://{apiHost}` (the demo's plain-HTTP
   * start page on localhost): the authorize URL's origin is replaced, its path and signed request kept.
   */
  browserOrigin?: string;
  clientId: string;
  clientSecret: string;
  /** The portal's own accounts (its first factor): the demo users and their published passwords. */
  users: ReadonlyArray<{ username: string; password: string }>;
  organization: string;
}

export interface RunningPortal {
  url: string;
  close(): Promise<void>;
}

interface Session {
  state?: string;
  pending?: string;
  user?: { username: string; factor: string; at: string };
  expiresAt: number;
}

const SESSION_COOKIE = "campus-session";
const SESSION_MS = 60 * 60 * 1000;
const MAX_SESSIONS = 1000;

function page(title: string, body: SafeHTML, status = 200) {
  return {
    status,
    body: renderDocument(
      Page({ title: `${title} – Campus Portal`, lang: "en", stylesheets: [], children: body }),
    ),
  };
}

/** Start the portal. Its redirect URI is `{url}/duo-callback`: register it with the application in Twofold. */
export async function startCampusPortal(o: CampusPortalOptions): Promise<RunningPortal> {
  const app = fastify({ logger: false, bodyLimit: 4096 });
  const sessions = new Map<string, Session>();
  app.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string" }, (_r, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(String(body))));
  });
  // Made once the port is known: the SDK's redirect URL names it.
  let client: Client;
  const sessionOf = (request: FastifyRequest, reply: FastifyReply): Session => {
    const id = /(?:^|;\s*)campus-session=([0-9a-f]{32})/.exec(request.headers.cookie ?? "")?.[1];
    const now = Date.now();
    const found = id ? sessions.get(id) : undefined;
    if (id && found && found.expiresAt > now) return found;
    for (const [k, s] of sessions)
      if (s.expiresAt <= now || sessions.size >= MAX_SESSIONS) sessions.delete(k);
    const fresh: Session = { expiresAt: now + SESSION_MS };
    const newId = randomHex(16);
    sessions.set(newId, fresh);
    reply.header("set-cookie", `${SESSION_COOKIE}=${newId}; Path=/; HttpOnly; SameSite=Lax`);
    return fresh;
  };
  const send = (reply: FastifyReply, r: { status: number; body: string }) =>
    reply
      .code(r.status)
      .type("text/html; charset=utf-8")
      // The login form's answer redirects to Twofold: its origin must be a form target too, or the browser stops there.
      .header(
        "content-security-policy",
        `default-src 'none'; form-action 'self' ${o.browserOrigin ?? `https://${o.apiHost}`}; frame-ancestors 'none'; base-uri 'none'`,
      )
      .header("cache-control", "no-store")
      .send(r.body);

  const loginForm = (error: string | null) =>
    page(
      "Log in",
      html`<h1>Campus Portal</h1>
<p>The demo web application of ${o.organization}. It checks your password, then sends you to Twofold for the second factor through Duo's Web SDK.</p>
${error ? html`<p role="alert"><strong>${error}</strong></p>` : ""}
<form method="post" action="/login">
<p><label for="username">Username</label><br><input id="username" name="username" autocomplete="username" required></p>
<p><label for="password">Password</label><br><input id="password" name="password" type="password" autocomplete="current-password" required></p>
<p><button type="submit">Log in</button></p>
</form>
<p>Demo accounts: ${o.users.map((u, i) => html`${i > 0 ? ", " : ""}<code>${u.username}</code> / <code>${u.password}</code>`)}.</p>`,
      error ? 401 : 200,
    );

  app.get("/", { schema: { response: { 200: T.String() } } }, async (request, reply) => {
    const session = sessionOf(request, reply);
    if (!session.user) return send(reply, loginForm(null));
    const u = session.user;
    return send(
      reply,
      page(
        "Welcome",
        html`<h1>Welcome, ${u.username}</h1>
<p role="status">You are logged in to Campus Portal. Second factor: <strong>${u.factor}</strong> at ${u.at}.</p>
<form method="post" action="/logout"><button type="submit">Log out</button></form>`,
      ),
    );
  });

  app.post<{ Body: Record<string, string> }>("/login", async (request, reply) => {
    const session = sessionOf(request, reply);
    const { username = "", password = "" } = request.body ?? {};
    const user = o.users.find((u) => u.username === username.trim().toLowerCase());
    // The portal's first factor: its own password check (constant time, the same answer for unknown users).
    const ok = constantTimeEqual(password, user?.password ?? randomHex(16)) && user !== undefined;
    if (!ok) return send(reply, loginForm("Wrong username or password."));
    try {
      await client.healthCheck();
    } catch {
      return send(
        reply,
        page(
          "Unavailable",
          html`<h1>Two-factor authentication is unavailable</h1><p>Twofold did not answer its health check. Try again soon.</p><p><a href="/">Back</a></p>`,
          503,
        ),
      );
    }
    session.state = client.generateState();
    session.pending = user.username;
    let target = await client.createAuthUrl(user.username, session.state);
    if (o.browserOrigin) {
      const u = new URL(target);
      target = `${o.browserOrigin}${u.pathname}${u.search}`;
    }
    return reply.code(303).header("location", target).send("");
  });

  app.get<{ Querystring: Record<string, string> }>("/duo-callback", async (request, reply) => {
    const session = sessionOf(request, reply);
    const q = request.query;
    const back = html`<p><a href="/">Back to the login page</a></p>`;
    if (!session.state || !session.pending || q["state"] !== session.state)
      return send(
        reply,
        page(
          "Login failed",
          html`<h1>Login failed</h1><p role="alert">This answer does not belong to a login started here.</p>${back}`,
          400,
        ),
      );
    const username = session.pending;
    session.state = undefined;
    session.pending = undefined;
    if (q["error"])
      return send(
        reply,
        page(
          "Login not completed",
          html`<h1>Login not completed</h1><p role="alert">${q["error_description"] ?? q["error"]}</p>${back}`,
          401,
        ),
      );
    try {
      const token = await client.exchangeAuthorizationCodeFor2FAResult(q["duo_code"] ?? "", username);
      if (token.auth_result.result !== "allow") throw new Error(token.auth_result.status_msg);
      session.user = {
        username,
        factor: token.auth_context.factor,
        at: new Date(token.auth_context.timestamp * 1000).toISOString(),
      };
      return reply.code(303).header("location", "/").send("");
    } catch (error) {
      return send(
        reply,
        page(
          "Login failed",
          html`<h1>Login failed</h1><p role="alert">${(error as Error).message}</p>${back}`,
          401,
        ),
      );
    }
  });

  app.post("/logout", async (request, reply) => {
    sessionOf(request, reply).user = undefined;
    return reply.code(303).header("location", "/").send("");
  });

  await app.listen({ host: o.host, port: o.port });
  const address = app.server.address() as AddressInfo;
  const url = `http://${o.host === "127.0.0.1" || o.host === "::1" ? "localhost" : o.host}:${address.port}`;
  client = new Client({
    clientId: o.clientId,
    clientSecret: o.clientSecret,
    apiHost: o.apiHost,
    redirectUrl: `${url}/duo-callback`,
  });
  // duo-compat §7.4: the SDK pins Duo's certificate authorities; an application trusting its own CA replaces the
  // agent (the documented runtime override; `axios` is private only in the SDK's TypeScript types).
  (client as unknown as { axios: { defaults: { httpsAgent: unknown } } }).axios.defaults.httpsAgent =
    new https.Agent({
      ca: o.ca,
    });

  return { url, close: () => app.close() };
}
