// A small server for browser tests of WebAuthn until the prompt serves the ceremonies: a page with the `webauthn` behaviour, routes that call the services.
/** @jsxRuntime automatic */
/** @jsxImportSource #jsx */
import Fastify, { type FastifyInstance } from "fastify";
import { randomHex } from "../../src/core/crypto/index.ts";
import type { WebAuthnMethod } from "../../src/core/use-cases/webauthn.ts";
import { registerSecurityHeaders } from "../../src/http/security-headers.ts";
import { registerWebAssets, webAssetURL } from "../../src/http/web-assets.ts";
import { Page } from "../../web/shared/components/page.tsx";
import { WebAuthnForm } from "../../web/shared/components/webauthn-form.tsx";
import { isLanguage, type Language } from "../../web/shared/i18n/catalogue.ts";
import { webAuthnMessages } from "../../web/shared/i18n/webauthn-messages.ts";
import { renderDocument } from "../../web/shared/jsx/html.ts";
import { createTestContext, type TestContext } from "./deps.ts";
import type { DialectName } from "./stores.ts";

export interface HarnessOutcome {
  kind: "registration" | "authentication";
  result: string;
  reason?: string;
  factor?: string;
  credentialTransports?: string[];
}

export interface WebAuthnHarness {
  /** http://localhost:PORT: the origin and RP ID (`localhost`) the services were configured with. */
  url: string;
  t: TestContext;
  /** Every ceremony finished through the harness, in order. */
  outcomes: HarnessOutcome[];
  /** Record `txid` (a second-factor login of `username`) as the proof the next registrations use. */
  setProof(username: string, txid: string): void;
  close(): Promise<void>;
}

const METHODS: readonly WebAuthnMethod[] = ["platform", "security-key", "hybrid"];

function methodOf(value: unknown): WebAuthnMethod | undefined {
  return METHODS.find((m) => m === value);
}

export async function startWebAuthnHarness(dialect: DialectName = "sqlite"): Promise<WebAuthnHarness> {
  const app: FastifyInstance = Fastify({ bodyLimit: 131072 });
  registerSecurityHeaders(app, false);
  registerWebAssets(app);
  const proofs = new Map<string, string>();
  const outcomes: HarnessOutcome[] = [];
  let t: TestContext | undefined;
  const services = () => t!.services;

  const session = (cookie: string | undefined): string | undefined =>
    /(?:^|;\s*)harness=([0-9a-f]{32})/.exec(cookie ?? "")?.[1];

  // A same-origin JSON call from the page (the behaviour), within the session the page set.
  const guard = (request: { headers: Record<string, string | string[] | undefined> }): string => {
    const s = session(request.headers["cookie"] as string | undefined);
    if (!s || request.headers["origin"] !== harness.url)
      throw Object.assign(new Error("forbidden"), { statusCode: 403 });
    return s;
  };

  app.get("/", async (request, reply) => {
    const q = request.query as Record<string, string>;
    const lang: Language = isLanguage(q["lang"]) ? q["lang"] : "en";
    const username = q["user"] ?? "";
    const method = methodOf(q["method"]);
    const m = webAuthnMessages(lang);
    const label = method === "platform" ? m.thisDevice : method === "hybrid" ? m.phonePasskey : m.securityKey;
    const hint =
      method === "platform" ? m.hintThisDevice : method === "hybrid" ? m.hintPhone : m.hintSecurityKey;
    const common = {
      workingMessage: m.working,
      failedMessage: m.failed,
      unsupportedMessage: m.unsupported,
    };
    const hidden = (
      <>
        <input type="hidden" name="username" value={username} />
        <input type="hidden" name="method" value={method ?? ""} />
      </>
    );
    const page = Page({
      title: m.logInWith(label),
      lang,
      stylesheets: [webAssetURL("shared/styles/base.css")],
      scripts: [webAssetURL("shared/behaviours/webauthn.ts")],
      children: (
        <>
          <h1>{m.logInWith(label)}</h1>
          <section aria-labelledby="add">
            <h2 id="add">{m.addKeyOffer}</h2>
            <WebAuthnForm
              ceremony="registration"
              beginUrl="/webauthn/register/options"
              finishUrl="/webauthn/register"
              submitLabel={m.addNow}
              {...common}
            >
              {hidden}
              <label for="key-name">{m.keyName}</label>
              <input id="key-name" name="keyName" type="text" maxlength={64} value={label} />
            </WebAuthnForm>
          </section>
          <section aria-labelledby="login">
            <h2 id="login">{label}</h2>
            <WebAuthnForm
              ceremony="authentication"
              beginUrl="/webauthn/login/options"
              finishUrl="/webauthn/login"
              submitLabel={m.continue}
              hint={hint}
              requires={method === "platform" ? "platform" : "webauthn"}
              {...common}
            >
              {hidden}
            </WebAuthnForm>
          </section>
        </>
      ),
    });
    const cookie = session(request.headers.cookie) ?? randomHex(16);
    return reply
      .type("text/html; charset=utf-8")
      .header("set-cookie", `harness=${cookie}; Path=/; HttpOnly; SameSite=Strict`)
      .send(renderDocument(page));
  });

  app.post("/webauthn/register/options", async (request) => {
    const context = guard(request);
    const body = request.body as Record<string, string>;
    const method = methodOf(body["method"]);
    return services().beginWebAuthnRegistration({
      username: body["username"] ?? "",
      proof: { txid: proofs.get(body["username"] ?? "") ?? "" },
      context,
      ...(method ? { method } : {}),
    });
  });

  app.post("/webauthn/register", async (request) => {
    const context = guard(request);
    const body = request.body as Record<string, unknown>;
    const lang = (request.headers["accept-language"] ?? "").startsWith("zh") ? "zh-Hant" : "en";
    const r = await services().finishWebAuthnRegistration({
      ceremonyId: String(body["ceremonyId"]),
      context,
      response: body["response"],
      name: String(body["keyName"] ?? ""),
    });
    outcomes.push({
      kind: "registration",
      result: r.result,
      ...(r.result === "rejected" ? { reason: r.reason } : { credentialTransports: r.credential.transports }),
    });
    const m = webAuthnMessages(lang);
    return r.result === "registered"
      ? { ok: true, message: m.keyAdded(r.credential.name) }
      : { ok: false, message: m.failed };
  });

  app.post("/webauthn/login/options", async (request) => {
    const context = guard(request);
    const body = request.body as Record<string, string>;
    const method = methodOf(body["method"]);
    return services().beginWebAuthnAuthentication({
      username: body["username"] ?? "",
      context,
      ...(method ? { method } : {}),
    });
  });

  app.post("/webauthn/login", async (request) => {
    const context = guard(request);
    const body = request.body as Record<string, unknown>;
    const lang = (request.headers["accept-language"] ?? "").startsWith("zh") ? "zh-Hant" : "en";
    const r = await services().finishWebAuthnAuthentication({
      ceremonyId: String(body["ceremonyId"]),
      context,
      response: body["response"],
    });
    outcomes.push({ kind: "authentication", result: r.result, reason: r.reason, factor: r.factor });
    const m = webAuthnMessages(lang);
    return r.result === "allow" ? { ok: true, message: m.loggedIn } : { ok: false, message: m.failed };
  });

  await app.listen({ host: "127.0.0.1", port: 0 });
  const port = (app.server.address() as { port: number }).port;
  const harness: WebAuthnHarness = {
    url: `http://localhost:${port}`,
    t: undefined as unknown as TestContext,
    outcomes,
    setProof: (username, txid) => proofs.set(username, txid),
    close: async () => {
      await app.close();
      await t?.close();
    },
  };
  t = await createTestContext(dialect, {
    "webauthn.rpId": "localhost",
    "webauthn.origins": [harness.url],
  });
  harness.t = t;
  return harness;
}
