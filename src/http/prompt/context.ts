// What every prompt route shares: loading the login behind the handle, the pages that end or pause a login, the way back.
import { Type as T } from "@sinclair/typebox";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { type EnrollChoiceView, EnrollStartPage } from "../../../web/prompt/pages/enroll.tsx";
import type { Action } from "../../../web/prompt/pages/frame.tsx";
import { FrameResultPage } from "../../../web/prompt/pages/frame-result.tsx";
import { FrameStartPage } from "../../../web/prompt/pages/frame-start.tsx";
import { NoticePage, type NoticeView } from "../../../web/prompt/pages/notice.tsx";
import { TrustPage } from "../../../web/prompt/pages/trust.tsx";
import { TwofoldError } from "../../core/errors.ts";
import { isFrameLogin } from "../../core/use-cases/frame-login.ts";
import type { FinishedLogin, PromptLogin, PromptMethods } from "../../core/use-cases/prompt-login.ts";
import type { ServiceRuntime } from "../../runtime/runtime.ts";
import { webAssetURL } from "../web-assets.ts";
import { type PageContext, pageContext, sendPage } from "./render.ts";

/** "Keep this page open" shows this long into a login page's idle 10 minutes (ux.md §1). */
export const KEEP_ALIVE_WARN_SECONDS = 9 * 60;

/** The handle in every prompt URL; anything else is a bad link (shown as a page, not a JSON 400). */
export const HandleParams = T.Object(
  { handle: T.String({ minLength: 1, maxLength: 64, pattern: "^[0-9A-Za-z]+$" }) },
  { additionalProperties: false },
);
export type HandleParams = { handle: string };

export const PromptQuery = T.Object(
  { lang: T.Optional(T.String({ maxLength: 16 })) },
  { additionalProperties: false },
);

/** An empty form: the buttons that only post (Send again, Continue, Return) carry no fields. */
export const EmptyForm = T.Union([T.Object({}, { additionalProperties: false }), T.Undefined(), T.Null()]);

export const HTML = T.String();

/** A prompt login, ready for a page: its handle's URLs, the page chrome and the redirect origin for the CSP. */
export interface PromptContext {
  handle: string;
  /** `/prompt/{handle}`: every method's routes live under it. */
  base: string;
  login: PromptLogin;
  page: PageContext;
  /**
   * The page's CSP targets: OIDC logins post forms to the application's redirect origin (the final 303), frame
   * logins (Web SDK v2) are framed by the parent's origin and send nothing elsewhere.
   */
  security: PageSecurity;
  /** The browser's User-Agent: the built-in authenticator's name (Windows Hello, Touch ID) depends on it. */
  userAgent: string;
}

export function baseOf(handle: string): string {
  return `/prompt/${handle}`;
}

export interface PageSecurity {
  formTarget: string | null;
  frameParent: string | null;
}

export function securityOf(login: PromptLogin): PageSecurity {
  const origin = new URL(login.session.redirectURI).origin;
  return isFrameLogin(login.session)
    ? { formTarget: null, frameParent: origin }
    : { formTarget: origin, frameParent: null };
}

export function notice(
  runtime: ServiceRuntime,
  request: FastifyRequest,
  reply: FastifyReply,
  view: NoticeView,
  options: { status?: number; login?: PromptLogin | null; handle?: string } = {},
): FastifyReply {
  const login = options.login ?? null;
  const page = pageContext(
    request,
    reply,
    runtime.config,
    login && options.handle
      ? {
          appName: login.application.name,
          username: login.session.username,
          returnAction: null,
        }
      : null,
  );
  return sendPage(reply, NoticePage({ chrome: page.chrome, view }), {
    status: options.status ?? 200,
    ...(login ? securityOf(login) : {}),
  });
}

/** A notice page outside any login (a bad link, a limit reached): the browser's language, no application named. */
export function plainNotice(
  runtime: ServiceRuntime,
  request: FastifyRequest,
  reply: FastifyReply,
  view: (t: PageContext["t"]) => NoticeView,
  status: number,
): FastifyReply {
  const page = pageContext(request, reply, runtime.config, null);
  return sendPage(reply, NoticePage({ chrome: page.chrome, view: view(page.t) }), { status });
}

export function badLink(runtime: ServiceRuntime, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return plainNotice(
    runtime,
    request,
    reply,
    (t) => ({ title: t.badLinkTitle, message: t.badLink, error: true, actions: [] }),
    404,
  );
}

/** "Return to {app}": ends the login with an OAuth error at the registered redirect URI (none inside a frame). */
function returnActions(login: PromptLogin, handle: string, app: string, t: PageContext["t"]): Action[] {
  if (isFrameLogin(login.session)) return [];
  return [{ label: t.returnTo(app), post: `${baseOf(handle)}/return`, primary: true }];
}

/**
 * The login behind the request's handle, ready for a method's page; or undefined after answering with the page
 * that applies instead: bad link, page expired (Return to {app}), logged in (Continue), not enrolled, disabled.
 */
export async function loadPrompt(
  runtime: ServiceRuntime,
  request: FastifyRequest<{ Params: HandleParams }>,
  reply: FastifyReply,
  options: { methods?: boolean; touch?: boolean; enrolling?: boolean } = {},
): Promise<{ ctx: PromptContext; methods: PromptMethods } | undefined> {
  const { handle } = request.params;
  const login = await runtime.services.openPromptLogin(handle, { touch: options.touch !== false });
  if (!login) {
    badLink(runtime, request, reply);
    return undefined;
  }
  const app = login.application.name;
  const base = baseOf(handle);
  // The page's language, words and chrome, and its CSP targets: built when a page is sent (a form whose answer is
  // a redirect needs none of them).
  let built: PageContext | undefined;
  const pageOf = (): PageContext => {
    if (built) return built;
    built = pageContext(request, reply, runtime.config, {
      appName: app,
      username: login.session.username,
      // In the iframe SDK there is no way back but the application's own page around the frame.
      returnAction: isFrameLogin(login.session) ? null : `${base}/return`,
    });
    // Every page of a live login: "Keep this page open" at 9 minutes idle (the login expires at 10, WCAG 2.2.1).
    built.chrome.keepAlive = {
      url: `${base}/keep-alive`,
      warnAfterSeconds: KEEP_ALIVE_WARN_SECONDS,
      script: webAssetURL("prompt/behaviours/keep-alive.ts"),
    };
    return built;
  };
  // A `?lang=` choice is remembered in a cookie (chooseLanguage) whatever the answer is, a redirect included.
  if ((request.query as Record<string, unknown> | undefined)?.["lang"] !== undefined) pageOf();
  let security: PageSecurity | undefined;
  const securityOfLogin = () => (security ??= securityOf(login));
  const context = (userAgent: string): PromptContext => ({
    handle,
    base,
    login,
    get page() {
      return pageOf();
    },
    get security() {
      return securityOfLogin();
    },
    userAgent,
  });
  const show = (view: NoticeView, status = 200) => {
    const page = pageOf();
    sendPage(reply, NoticePage({ chrome: page.chrome, view }), { status, ...securityOfLogin() });
    return undefined;
  };
  const t = () => pageOf().t;
  // New-user policy `allow`. In the iframe SDK's frame not on this GET: the browser may refuse the page
  // (frame-ancestors) after the GET is answered, or the GET may be no page at all (an image): the page's form, once
  // shown, lets the user in (POST …/new-user). True when the answer was sent.
  const letIn = async (): Promise<boolean> => {
    if (!isFrameLogin(login.session)) return letNewUserIn(runtime, request, reply);
    if (!(await runtime.services.mayAllowPromptNewUser(handle))) return false;
    const page = pageOf();
    sendPage(
      reply,
      FrameStartPage({
        chrome: page.chrome,
        view: {
          title: page.t.newUserTitle,
          text: page.t.newUserText(app),
          action: `${base}/new-user`,
          label: page.t.continueToApp(app),
          optionsURL: null,
          scripts: [webAssetURL("prompt/behaviours/frame-start.ts")],
        },
      }),
      securityOfLogin(),
    );
    return true;
  };
  const status = login.session.status;
  if (login.expired || (status !== "pending" && status !== "allowed"))
    return show(
      {
        title: t().pageExpiredTitle,
        message: t().pageExpired(app),
        error: true,
        actions: returnActions(login, handle, app, t()),
      },
      410,
    );
  if (status === "allowed")
    return show({
      title: t().loggedInTitle,
      message: t().loggedIn,
      error: false,
      actions: [{ label: t().continueToApp(app), post: `${base}/finish`, primary: true }],
    });
  if (!login.user && status === "pending" && !options.enrolling && (await letIn())) return undefined;
  if (!login.user || login.user.status === "disabled")
    return show({
      title: t().cantLogInTitle,
      message: login.user ? t().accountDisabled : t().notEnrolled,
      error: true,
      actions: returnActions(login, handle, app, t()),
    });
  const userAgent = String(request.headers["user-agent"] ?? "").slice(0, 512);
  // A form's answer (a passcode typed) needs no method list: the factor itself decides.
  if (options.methods === false)
    return {
      ctx: context(userAgent),
      methods: { pushDevices: [], passcode: true, webauthnKeys: [], allowed: [] },
    };
  const methods = await runtime.services.listPromptMethods(login);
  if (
    methods.pushDevices.length === 0 &&
    !methods.passcode &&
    methods.webauthnKeys.length === 0 &&
    methods.smsPhone === undefined
  ) {
    // Never had a factor, and the application offers enrolment: set one up here (the enrol routes).
    const eligibility = await runtime.services.promptEnrollment(handle);
    if (eligibility.eligible && options.enrolling) return { ctx: context(userAgent), methods };
    if (eligibility.eligible) {
      sendPage(
        reply,
        EnrollStartPage({ chrome: pageOf().chrome, view: enrollChoices(runtime, base) }),
        securityOfLogin(),
      );
      return undefined;
    }
    if (!options.enrolling && (await letIn())) return undefined;
    return show({
      title: t().cantLogInTitle,
      message: methods.allowed.length < 2 ? t().noMethods(app) : t().notEnrolled,
      error: true,
      actions: returnActions(login, handle, app, t()),
    });
  }
  return { ctx: context(userAgent), methods };
}

/**
 * New-user policy `allow`: a user who never had a factor (or a username nobody has) goes in without one, through the
 * completion gate, then back to the application. True when the answer was sent.
 */
export async function letNewUserIn(
  runtime: ServiceRuntime,
  request: FastifyRequest<{ Params: HandleParams }>,
  reply: FastifyReply,
): Promise<boolean> {
  const allowed = await runtime.services.allowPromptNewUser(request.params.handle, { ip: request.ip });
  if (allowed.result !== "allow") return false;
  await completeLogin(runtime, request, reply);
  return true;
}

/** Enrolment's first page: the app (recommended), or this device or a security key where WebAuthn is set up. */
export function enrollChoices(runtime: ServiceRuntime, base: string): EnrollChoiceView {
  return {
    appAction: `${base}/enroll`,
    keyURL: runtime.config.webauthn ? `${base}/enroll/key` : null,
    scripts: runtime.config.webauthn ? [webAssetURL("shared/behaviours/webauthn.ts")] : [],
  };
}

/** The trusted-browser cookie of one application (I5): `__Host-`, so only this host and path `/` can set it. */
export function trustCookieName(applicationId: string): string {
  return `__Host-twofold-trust-${applicationId}`;
}

export function readCookie(request: FastifyRequest, name: string): string | undefined {
  for (const part of (request.headers.cookie ?? "").split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === name) return v.join("=");
  }
  return undefined;
}

export function setTrustCookie(
  reply: FastifyReply,
  applicationId: string,
  token: string,
  expiresAt: number,
  now: number,
) {
  const maxAge = Math.max(0, Math.floor((expiresAt - now) / 1000));
  reply.header(
    "set-cookie",
    `${trustCookieName(applicationId)}=${token}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=${maxAge}`,
  );
}

export function clearTrustCookie(reply: FastifyReply, applicationId: string) {
  reply.header(
    "set-cookie",
    `${trustCookieName(applicationId)}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0`,
  );
}

/**
 * After an allow: "Trust this browser?" when the application remembers browsers and the factor allows it (not a
 * code, not in a frame); otherwise straight back to the application. `allowed`: the login as this request's own
 * allow left it (a typed passcode), so that the next steps need not read it back.
 */
export async function completeLogin(
  runtime: ServiceRuntime,
  request: FastifyRequest<{ Params: HandleParams }>,
  reply: FastifyReply,
  allowed?: PromptLogin,
): Promise<FastifyReply | undefined> {
  const offer = await runtime.services.offerPromptTrust(request.params.handle, allowed);
  if (!offer) return finishAndRedirect(runtime, request, reply, allowed);
  const login = allowed ?? (await runtime.services.openPromptLogin(request.params.handle, { touch: false }));
  if (!login) return finishAndRedirect(runtime, request, reply);
  const page = pageContext(request, reply, runtime.config, {
    appName: login.application.name,
    username: login.session.username,
    returnAction: null,
  });
  return sendPage(
    reply,
    TrustPage({
      chrome: page.chrome,
      view: {
        action: `${baseOf(request.params.handle)}/trust`,
        days: offer.days,
        appName: login.application.name,
      },
    }),
    securityOf(login),
  );
}

/**
 * Whether this browser may be offered "Add a key" after a phone login: it has a built-in authenticator (the webauthn
 * behaviour says so in a cookie: elsewhere the offer would mostly lead to "no key here") and was not offered one this
 * month.
 */
export function mayOfferKey(request: FastifyRequest): boolean {
  const cookies = request.headers.cookie ?? "";
  return cookies.includes(`${PLATFORM_AUTHENTICATOR_COOKIE}=1`) && !cookies.includes(`${KEY_OFFER_COOKIE}=`);
}

/** "Add a key" is offered at most once a month in a browser (ux.md §2.1): set when the offer is shown. */
export const KEY_OFFER_COOKIE = "__Host-twofold-key-offer";
/** Set by the webauthn behaviour: 1 where the browser has a built-in authenticator (Windows Hello, Touch ID). */
export const PLATFORM_AUTHENTICATOR_COOKIE = "__Host-twofold-platform-authenticator";

/**
 * 303 to the application with its code (the login the gate allowed), or the expired page. After a phone login,
 * "Add a key" comes first, once a month in a browser (its page posts back here).
 */
export async function finishAndRedirect(
  runtime: ServiceRuntime,
  request: FastifyRequest<{ Params: HandleParams }>,
  reply: FastifyReply,
  allowed?: PromptLogin,
): Promise<FastifyReply | undefined> {
  // A login with a factor set up in it: "Add a backup" of the other kind first (or Skip backup); then "Add a key".
  if (await runtime.services.offerPromptBackup(request.params.handle, allowed))
    return reply
      .code(303)
      .header("location", `${baseOf(request.params.handle)}/enroll/backup`)
      .send("");
  if (mayOfferKey(request) && (await runtime.services.shouldOfferPromptKey(request.params.handle, allowed)))
    return reply
      .code(303)
      .header("location", `${baseOf(request.params.handle)}/add-key`)
      .send("");
  try {
    const finished = await runtime.services.finishPromptLogin(request.params.handle, allowed);
    return sendFinished(runtime, request, reply, finished);
  } catch (error) {
    if (error instanceof TwofoldError && error.code === "ERR_LOGIN_SESSION_ENDED") {
      // Ended: its page says so. Still pending (another tab, a replayed form): back to it, which asks for a factor.
      if (await loadPrompt(runtime, request, reply))
        return reply.code(303).header("location", baseOf(request.params.handle)).send("");
      return reply;
    }
    throw error;
  }
}

/** The remembered method in this browser (ux.md §2: start with the method last used here). */
export const METHOD_COOKIE = "__Host-twofold-method";

export function rememberMethod(reply: FastifyReply, method: string): void {
  reply.header(
    "set-cookie",
    `${METHOD_COOKIE}=${method}; Path=/; Secure; SameSite=Lax; HttpOnly; Max-Age=31536000`,
  );
}

export function rememberedMethod(request: FastifyRequest): string | undefined {
  for (const part of (request.headers.cookie ?? "").split(";")) {
    const [k, v] = part.trim().split("=");
    if (k === METHOD_COOKIE && v && /^[a-z-]{1,32}$/.test(v)) return v;
  }
  return undefined;
}

/** One method of the prompt: an entry in Other options and its own routes (see methods.ts). */
export interface PromptMethodModule {
  /** The URL segment and cookie value: `/prompt/:handle/<id>`. */
  id: string;
  /**
   * Its entry in Other options when this user has it and the application allows it (several for WebAuthn: one
   * per kind of key); null otherwise.
   */
  entry(ctx: PromptContext, methods: PromptMethods): Action | readonly Action[] | null;
  /** Its routes, all under `/prompt/:handle/<id>`; its start page is `GET /prompt/:handle/<id>`. */
  register(app: FastifyInstance, runtime: ServiceRuntime): void;
}

/** The way back after an allow: a 303 to the application with its code, or (iframe SDK) the page posting AUTH. */
export async function sendFinished(
  runtime: ServiceRuntime,
  request: FastifyRequest<{ Params: HandleParams }>,
  reply: FastifyReply,
  finished: FinishedLogin,
): Promise<FastifyReply> {
  if (!finished.frame) return reply.code(303).header("location", finished.redirectURL).send("");
  const login = await runtime.services.openPromptLogin(request.params.handle, { touch: false });
  const page = pageContext(request, reply, runtime.config, {
    appName: login?.application.name ?? "",
    username: login?.session.username ?? null,
    returnAction: null,
  });
  return sendPage(
    reply,
    FrameResultPage({
      chrome: page.chrome,
      view: { ...finished.frame, scripts: [webAssetURL("prompt/behaviours/frame-result.ts")] },
    }),
    { formTarget: null, frameParent: finished.frame.parentOrigin },
  );
}
