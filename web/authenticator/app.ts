// The Twofold Authenticator web app: accounts with offline passcodes, activation by QR code or link, and login
// requests answered with signed decisions (docs/authenticator-protocol.md). Every text goes through t() and
// into the page as text (textContent, Text nodes), never as markup.
import { type Account, accountId, deleteAccount, listAccounts, saveAccount } from "./accounts.ts";
import { decodeBase64url, generateDeviceKey, generateTOTP, importTOTPKey, secondsLeft } from "./crypto.ts";
import {
  activateDevice,
  answerPush,
  type Delivery,
  DeviceAPIError,
  type DevicePush,
  fetchVAPIDKey,
  putDelivery,
} from "./device-client.ts";
import {
  currentLanguage,
  formatTime,
  initialLanguage,
  LANGUAGES,
  languageName,
  type MessageKey,
  setLanguage,
  t,
  translateElements,
} from "./i18n.ts";
import { MESSAGES } from "./messages.ts";
import { type FeedStatus, PushFeed } from "./push-feed.ts";
import { scanQRCode } from "./scanner.ts";

type Params = Record<string, string | number>;
type Decision = "approve" | "deny" | "fraud";

// The string table, for the page's own checks (every key in both languages) and for debugging.
Object.assign(self, { TWOFOLD_STRINGS: MESSAGES });

const SCOPE = "/authenticator";
const SERVICE_WORKER_URL = "/authenticator/sw.js";
/** `AC…id.secret` (createDeviceActivation): 20-character id, base64url secret. */
const ACTIVATION_TOKEN = /^AC[A-Z0-9]{18}\.[A-Za-z0-9_-]{16,128}$/;
/** Push permission or a slow push service must never hold up activation. */
const PUSH_SETUP_TIMEOUT_MS = 8000;
const OUTCOMES: Partial<Record<string, MessageKey>> = {
  approved: "outcomeApproved",
  denied: "outcomeDenied",
  fraud: "outcomeFraud",
};
const RESOLVED: Partial<Record<string, MessageKey>> = {
  approved: "outcomeResolvedApproved",
  denied: "outcomeResolvedDenied",
  fraud: "outcomeResolvedFraud",
  expired: "outcomeExpired",
};

/** An element of the page (index.html): a missing one is a bug, found at once. */
function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`no #${id} on the page`);
  return element as T;
}

interface ActivationMessage {
  kind: string;
  key: MessageKey;
  params: Params;
  link: string | null;
}

const state = {
  accounts: [] as Account[],
  accountViews: new Map<string, AccountView>(),
  /** origin + " " + txid → RequestView */
  requests: new Map<string, RequestView>(),
  statuses: new Map<string, FeedStatus>(),
  /** The push a notification click asked to show. */
  focusTxid: null as string | null,
  activating: false,
  /** AbortController while the camera is open. */
  scan: null as AbortController | null,
  /** Messages that stay on screen, kept as keys so a language switch rewrites them. */
  activationMessage: null as ActivationMessage | null,
  notificationMessage: null as MessageKey | null,
};

const feed = new PushFeed({
  onPush: (account, push) => addRequest(account, push),
  onResolved: (account, event) => resolveRequest(account, event),
  onSnapshot: (account, pushes, knownBefore) => applySnapshot(account, pushes, knownBefore),
  onStatus: (account, status) => {
    state.statuses.set(account.id, status);
    state.accountViews.get(account.id)?.setRejected(status === "rejected");
    renderConnection();
  },
});

// ---------------------------------------------------------------- DOM helpers

let nextId = 0;
const uid = (prefix: string) => `${prefix}-${++nextId}`;

type AttributeValue = string | number | boolean | null | undefined | ((event: Event) => void);

/** Create an element; string children become Text nodes, so nothing here is ever parsed as HTML. */
function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, AttributeValue> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (typeof value === "function") el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  el.append(...children);
  return el;
}

let announceTimer: ReturnType<typeof setTimeout> | undefined;
/** Say `text` through the polite live region (new requests, results). */
function announce(text: string): void {
  const region = $("announcer");
  region.textContent = "";
  clearTimeout(announceTimer);
  // A short gap makes screen readers read a repeated message again.
  announceTimer = setTimeout(() => {
    region.textContent = text;
  }, 50);
}

function groupDigits(code: string): string {
  return code.length === 6 ? `${code.slice(0, 3)} ${code.slice(3)}` : code;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("timed out")), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** A modal confirmation (the native <dialog>: focus is trapped and returned, Escape cancels). */
function confirmAction({
  title,
  text,
  confirm,
}: {
  title: string;
  text: string;
  confirm: string;
}): Promise<boolean> {
  const dialog = $<HTMLDialogElement>("confirm-dialog");
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-ok").textContent = confirm;
  $("confirm-cancel").textContent = t("cancelButton");
  dialog.returnValue = "";
  dialog.showModal();
  // The safe choice has focus: Enter does not report fraud or delete an account by accident.
  $("confirm-cancel").focus();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "confirm"), { once: true });
  });
}

// ---------------------------------------------------------------- accounts and passcodes

class AccountView {
  account: Account;
  step: number;
  code: string;
  readonly title: HTMLElement;
  readonly organization: HTMLElement;
  readonly serverTerm: HTMLElement;
  readonly deviceTerm: HTMLElement;
  readonly codeLabel: HTMLElement;
  readonly digits: HTMLElement;
  readonly countdown: HTMLElement;
  readonly progress: HTMLProgressElement;
  readonly rejected: HTMLElement;
  readonly copyButton: HTMLButtonElement;
  readonly removeButton: HTMLButtonElement;
  readonly element: HTMLLIElement;

  constructor(account: Account) {
    this.account = account;
    this.step = -1;
    this.code = "";
    const id = uid("account");
    this.title = h("h3", { id: `${id}-title` }, account.username);
    this.organization = h("p", { class: "organization" }, account.organization);
    this.serverTerm = h("dt");
    this.deviceTerm = h("dt");
    this.codeLabel = h("span", { class: "passcode-label", id: `${id}-code-label` });
    this.digits = h("span", { class: "passcode-digits", "data-passcode": "" });
    this.countdown = h("span", { class: "countdown" });
    this.progress = h("progress", {
      max: account.totp.period,
      value: account.totp.period,
      "aria-hidden": "true",
    });
    this.rejected = h("p", { class: "warning", hidden: true });
    this.copyButton = h("button", { type: "button", class: "secondary", onclick: () => this.copy() });
    this.removeButton = h("button", {
      type: "button",
      class: "secondary",
      onclick: () => removeAccount(this.account),
    });
    this.element = h(
      "li",
      { class: "card account", "data-username": account.username, "aria-labelledby": `${id}-title` },
      this.title,
      this.organization,
      h(
        "div",
        { class: "passcode", role: "group", "aria-labelledby": `${id}-code-label` },
        this.codeLabel,
        this.digits,
        this.countdown,
        this.progress,
      ),
      this.rejected,
      h(
        "dl",
        { class: "details" },
        this.serverTerm,
        h("dd", {}, account.origin),
        this.deviceTerm,
        h("dd", {}, account.deviceName),
      ),
      h("div", { class: "actions" }, this.copyButton, this.removeButton),
    );
    this.applyText();
  }

  applyText(): void {
    const username = this.account.username;
    this.serverTerm.textContent = t("accountServer");
    this.deviceTerm.textContent = t("accountDevice");
    this.codeLabel.textContent = t("passcodeLabel");
    this.copyButton.textContent = t("copyPasscode");
    this.copyButton.setAttribute("aria-label", t("copyPasscodeFor", { username }));
    this.removeButton.textContent = t("removeAccount");
    this.removeButton.setAttribute("aria-label", t("removeAccountFor", { username }));
    this.rejected.textContent = t("accountRejected");
    this.tick(Date.now());
  }

  setRejected(rejected: boolean): void {
    this.rejected.hidden = !rejected;
  }

  /** Computed here from the HMAC key, so it works offline (RFC 6238). */
  async tick(now: number): Promise<void> {
    const { period, digits } = this.account.totp;
    const step = Math.floor(now / 1000 / period);
    const left = secondsLeft(period, now);
    this.countdown.textContent = t("passcodeCountdown", { seconds: left });
    this.progress.value = left;
    if (step === this.step) return;
    this.step = step;
    const code = await generateTOTP(this.account.totpKey, { period, digits }, now);
    if (this.step !== step) return;
    this.code = code;
    this.digits.textContent = groupDigits(code);
  }

  async copy(): Promise<void> {
    try {
      await navigator.clipboard.writeText(this.code);
      announce(t("copied"));
    } catch {
      // Clipboard refused (no permission): the code is on screen to read.
    }
  }
}

function renderAccounts(): void {
  const list = $("account-list");
  const ids = new Set(state.accounts.map((a) => a.id));
  for (const [id, view] of state.accountViews) {
    if (!ids.has(id)) {
      view.element.remove();
      state.accountViews.delete(id);
      state.statuses.delete(id);
    }
  }
  for (const account of state.accounts) {
    let view = state.accountViews.get(account.id);
    if (!view) {
      view = new AccountView(account);
      state.accountViews.set(account.id, view);
    }
    view.account = account;
    list.append(view.element);
  }
  $("no-accounts").hidden = state.accounts.length > 0;
  renderNotificationsButton();
  renderConnection();
}

async function reloadAccounts(): Promise<void> {
  state.accounts = await listAccounts();
  renderAccounts();
  feed.setAccounts(state.accounts, pendingTxids);
}

async function removeAccount(account: Account): Promise<void> {
  const confirmed = await confirmAction({
    title: t("removeTitle"),
    text: t("removeText", { username: account.username, organization: account.organization }),
    confirm: t("removeConfirm"),
  });
  if (!confirmed) return;
  // Best effort: the server stops sending Web Push for this device. The account goes either way.
  await withTimeout(putDelivery(account, { type: "none" }), 3000).catch(() => undefined);
  await deleteAccount(account.id);
  for (const [key, view] of state.requests) {
    if (view.account.id === account.id) {
      view.element.remove();
      state.requests.delete(key);
    }
  }
  await reloadAccounts();
  renderRequestsEmpty();
  announce(t("removed", { username: account.username }));
  $("accounts-heading").focus();
}

// ---------------------------------------------------------------- login requests

const requestKey = (origin: string, txid: string) => `${origin} ${txid}`;

function pendingTxids(account: Account): Set<string> {
  const txids = new Set<string>();
  for (const view of state.requests.values())
    if (view.pending && view.account.id === account.id) txids.add(view.push.txid);
  return txids;
}

type Row = "requestAccount" | "requestTime" | "requestIP" | "requestPlace" | "requestInfo";

class RequestView {
  account: Account;
  readonly push: DevicePush;
  pending: boolean;
  answering: boolean;
  outcome: { status: string; key: MessageKey } | null;
  readonly digits: number;
  readonly title: HTMLElement;
  readonly terms: Partial<Record<Row, HTMLElement>>;
  readonly values: Partial<Record<Row, HTMLElement>>;
  readonly expires: HTMLElement;
  readonly error: HTMLElement;
  readonly codeLabel: HTMLLabelElement;
  readonly codeInput: HTMLInputElement | null;
  readonly notice: HTMLElement;
  noticeKey: MessageKey | null;
  readonly approveButton: HTMLButtonElement;
  readonly denyButton: HTMLButtonElement;
  readonly fraudButton: HTMLButtonElement;
  readonly form: HTMLFormElement;
  readonly outcomeText: HTMLElement;
  readonly dismissButton: HTMLButtonElement;
  readonly outcomeBox: HTMLElement;
  readonly element: HTMLLIElement;

  constructor(account: Account, push: DevicePush) {
    this.account = account;
    this.push = push;
    this.pending = true;
    /** While our own answer is on its way, its reply (not the stream's echo of it) gives the outcome. */
    this.answering = false;
    this.outcome = null;
    const id = uid("request");
    const digits = push.codeDigits !== undefined && Number.isInteger(push.codeDigits) ? push.codeDigits : 6;
    this.digits = digits;
    this.title = h("h3", { id: `${id}-title` });
    this.terms = {};
    this.values = {};
    const rows: HTMLElement[] = [];
    const row = (key: Row, value: string | undefined, className?: string) => {
      if (value === null || value === undefined || value === "") return;
      const term = h("dt");
      const description = h("dd", className ? { class: className } : {}, String(value));
      this.terms[key] = term;
      this.values[key] = description;
      rows.push(term, description);
    };
    row("requestAccount", " ");
    row("requestTime", " ");
    row("requestIP", push.ip);
    row("requestPlace", push.place);
    row("requestInfo", push.info, "info");
    this.expires = h("p", { class: "expires" });
    this.error = h("p", { class: "error", id: `${id}-error` });
    this.codeLabel = h("label", { for: `${id}-code` });
    this.codeInput = push.verified
      ? h("input", {
          id: `${id}-code`,
          name: "code",
          type: "text",
          inputmode: "numeric",
          pattern: `[0-9]{${digits}}`,
          minlength: digits,
          maxlength: digits,
          size: digits + 2,
          autocomplete: "off",
          spellcheck: "false",
          required: true,
          "aria-describedby": `${id}-error`,
          class: "code-input",
        })
      : null;
    this.notice = h("p", { class: "error" });
    this.noticeKey = null;
    this.approveButton = h("button", { type: "submit", class: "primary" });
    this.denyButton = h("button", { type: "button", class: "secondary", onclick: () => this.answer("deny") });
    this.fraudButton = h("button", { type: "button", class: "danger", onclick: () => this.reportFraud() });
    this.form = h(
      "form",
      {
        class: "answer",
        novalidate: true,
        onsubmit: (event: Event) => {
          event.preventDefault();
          this.approve();
        },
      },
      ...(this.codeInput ? [this.codeLabel, this.codeInput, this.error] : []),
      h("div", { class: "actions" }, this.approveButton, this.denyButton, this.fraudButton),
      this.notice,
    );
    this.outcomeText = h("p", { class: "outcome", tabindex: "-1" });
    this.dismissButton = h("button", { type: "button", class: "secondary", onclick: () => this.dismiss() });
    this.outcomeBox = h("div", { class: "outcome-box", hidden: true }, this.outcomeText, this.dismissButton);
    this.element = h(
      "li",
      { class: "card request", "data-txid": push.txid, "aria-labelledby": `${id}-title` },
      this.title,
      h("dl", { class: "details" }, ...rows),
      this.expires,
      this.form,
      this.outcomeBox,
    );
    this.applyText();
  }

  applyText(): void {
    this.title.textContent = t("requestTitle", { application: this.push.application });
    for (const [key, term] of Object.entries(this.terms)) term.textContent = t(key as Row);
    this.values.requestTime!.textContent = formatTime(this.push.time);
    this.values.requestAccount!.textContent = t("requestAccountValue", {
      username: this.account.username,
      organization: this.account.organization,
    });
    this.codeLabel.textContent = t("codeLabel", { digits: this.digits });
    this.approveButton.textContent = t("approveButton");
    this.denyButton.textContent = t("denyButton");
    this.fraudButton.textContent = t("fraudButton");
    this.dismissButton.textContent = t("dismissButton");
    if (this.error.textContent) this.error.textContent = t("codeInvalid", { digits: this.digits });
    this.notice.textContent = this.noticeKey ? t(this.noticeKey) : "";
    if (this.outcome) this.outcomeText.textContent = t(this.outcome.key);
    this.tick(Date.now());
  }

  tick(now: number): void {
    if (!this.pending) return;
    const left = Math.ceil((this.push.expiresAt - now) / 1000);
    if (left <= 0) this.finish("expired", "outcomeExpired", { focus: false });
    else this.expires.textContent = t("requestExpires", { seconds: left });
  }

  focus(): void {
    (this.codeInput ?? this.approveButton).focus();
    this.element.scrollIntoView({ block: "nearest" });
  }

  approve(): Promise<void> | undefined {
    let code = "";
    if (this.codeInput) {
      code = this.codeInput.value.trim();
      if (!new RegExp(`^[0-9]{${this.digits}}$`).test(code)) {
        this.error.textContent = t("codeInvalid", { digits: this.digits });
        this.codeInput.setAttribute("aria-invalid", "true");
        this.codeInput.focus();
        return;
      }
      this.error.textContent = "";
      this.codeInput.removeAttribute("aria-invalid");
    }
    return this.answer("approve", code);
  }

  async reportFraud(): Promise<void> {
    const confirmed = await confirmAction({
      title: t("fraudTitle"),
      text: t("fraudText"),
      confirm: t("fraudConfirm"),
    });
    if (confirmed) await this.answer("fraud");
  }

  async answer(decision: Decision, code = ""): Promise<void> {
    if (!this.pending) return;
    this.setBusy(true);
    this.noticeKey = null;
    this.notice.textContent = "";
    try {
      const status = await answerPush(this.account, this.push.txid, decision, code);
      // Approve answered "denied": the typed code did not match (or the account is locked).
      const key = decision === "approve" && status === "denied" ? "outcomeCodeRejected" : OUTCOMES[status];
      this.finish(status, key ?? "outcomeGone");
    } catch (error) {
      const code = error instanceof DeviceAPIError ? error.code : undefined;
      if (code === "ERR_PUSH_EXPIRED") this.finish("expired", "outcomeExpired");
      else if (code === "ERR_PUSH_ALREADY_ANSWERED") this.finish("answered", "outcomeAnswered");
      else if (code === "ERR_PUSH_NOT_FOUND") this.finish("gone", "outcomeGone");
      else {
        this.setBusy(false);
        this.noticeKey = "answerFailed";
        this.notice.textContent = t("answerFailed");
        announce(t("answerFailed"));
      }
    }
  }

  setBusy(busy: boolean): void {
    this.answering = busy;
    for (const control of [this.approveButton, this.denyButton, this.fraudButton, this.codeInput])
      if (control) control.disabled = busy;
    this.element.setAttribute("aria-busy", String(busy));
  }

  /** The request is over: the form gives way to the outcome, which is announced and focused. */
  finish(status: string, key: MessageKey, { focus = true } = {}): void {
    if (!this.pending) return;
    this.pending = false;
    this.outcome = { status, key };
    this.element.setAttribute("aria-busy", "false");
    this.element.dataset.outcome = status;
    this.form.remove();
    this.expires.remove();
    this.outcomeText.textContent = t(key);
    this.outcomeBox.hidden = false;
    announce(`${t("requestTitle", { application: this.push.application })}: ${t(key)}`);
    if (focus && this.element.contains(document.activeElement)) this.dismissButton.focus();
    void closeNotification(this.push.txid);
  }

  dismiss(): void {
    this.element.remove();
    state.requests.delete(requestKey(this.account.origin, this.push.txid));
    renderRequestsEmpty();
    $("requests-heading").focus();
  }
}

function addRequest(account: Account, push: DevicePush): void {
  const key = requestKey(account.origin, push.txid);
  if (state.requests.has(key) || push.expiresAt <= Date.now()) return;
  const view = new RequestView(account, push);
  state.requests.set(key, view);
  $("request-list").prepend(view.element);
  renderRequestsEmpty();
  announce(t("newRequest", { application: push.application }));
  const idle = document.activeElement === null || document.activeElement === document.body;
  if (state.focusTxid === push.txid || idle) {
    state.focusTxid = null;
    view.focus();
  }
}

function resolveRequest(account: Account, { txid, status }: { txid: string; status: string }): void {
  const view = state.requests.get(requestKey(account.origin, txid));
  if (view?.pending && !view.answering)
    view.finish(status, RESOLVED[status] ?? "outcomeGone", { focus: false });
  else void closeNotification(txid);
}

/** After a poll: add what is new, close what this account saw before and is no longer pending. */
function applySnapshot(account: Account, pushes: DevicePush[], knownBefore: Set<string>): void {
  const pending = new Set(pushes.map((p) => p.txid));
  for (const txid of knownBefore) {
    const view = state.requests.get(requestKey(account.origin, txid));
    if (!pending.has(txid) && view?.pending && !view.answering && view.account.id === account.id)
      view.finish("gone", view.push.expiresAt <= Date.now() ? "outcomeExpired" : "outcomeGone", {
        focus: false,
      });
  }
  for (const push of [...pushes].reverse()) addRequest(account, push);
}

function renderRequestsEmpty(): void {
  $("no-requests").hidden = state.requests.size > 0;
}

function focusRequest(txid: string): boolean {
  for (const view of state.requests.values()) {
    if (view.push.txid === txid && view.pending) {
      view.focus();
      return true;
    }
  }
  return false;
}

// ---------------------------------------------------------------- connection state

function renderConnection(): void {
  const el = $("connection");
  const statuses = [...state.statuses.values()];
  if (statuses.length === 0) {
    el.hidden = true;
    return;
  }
  const status = statuses.includes("online")
    ? "online"
    : statuses.every((s) => s === "connecting")
      ? "connecting"
      : "offline";
  el.hidden = false;
  el.dataset.state = status;
  const keys = { online: "statusOnline", connecting: "statusConnecting", offline: "statusOffline" } as const;
  const text = t(keys[status]);
  if (el.textContent !== text) el.textContent = text;
}

// ---------------------------------------------------------------- activation

/** The token and server of an activation link (`<publicUrl>/authenticator#activate=<token>`), or a bare token. */
function parseActivationLink(text: string): { origin: string; token: string; link: string | null } | null {
  const value = text.trim();
  if (ACTIVATION_TOKEN.test(value)) return { origin: location.origin, token: value, link: null };
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return null;
  if (!/\/authenticator\/?$/.test(url.pathname)) return null;
  const token = new URLSearchParams(url.hash.slice(1)).get("activate");
  return token && ACTIVATION_TOKEN.test(token) ? { origin: url.origin, token, link: url.href } : null;
}

function showActivationMessage(
  kind: string | null,
  key: MessageKey,
  params: Params = {},
  link: string | null = null,
): void {
  state.activationMessage = kind ? { kind, key, params, link } : null;
  renderActivationMessage();
}

function renderActivationMessage(): void {
  const el = $("activation-status");
  const message = state.activationMessage;
  el.textContent = "";
  el.dataset.kind = message?.kind ?? "";
  if (!message) return;
  el.append(t(message.key, message.params));
  if (message.link) el.append(" ", h("a", { href: message.link, rel: "noopener noreferrer" }, t("openLink")));
}

function platformName(): string {
  const data = (navigator as { userAgentData?: { platform?: string } }).userAgentData;
  return data?.platform || navigator.platform || "Web";
}

async function activate(text: string): Promise<void> {
  const parsed = parseActivationLink(text);
  if (!parsed) return showActivationMessage("error", "activationNotLink");
  // The page may talk only to its own server (connect-src 'self'): another server's link opens there.
  if (parsed.origin !== location.origin)
    return showActivationMessage("error", "activationOtherServer", { origin: parsed.origin }, parsed.link);
  if (state.activating) return;
  state.activating = true;
  $<HTMLButtonElement>("activate-button").disabled = true;
  showActivationMessage("busy", "activating");
  try {
    const key = await generateDeviceKey();
    const delivery = await createPushDelivery(parsed.origin);
    const deviceName = t("deviceName", { platform: platformName() });
    const result = await activateDevice(parsed.origin, {
      token: parsed.token,
      name: deviceName,
      publicKey: key.publicKey,
      ...(delivery ? { delivery } : {}),
    });
    const { secret, ...totp } = result.totp;
    // From here on the seed exists only inside the non-extractable key.
    const totpKey = await importTOTPKey(secret ?? "", totp.algorithm);
    delete result.totp.secret;
    await saveAccount({
      id: accountId(parsed.origin, result.deviceId),
      origin: parsed.origin,
      deviceId: result.deviceId,
      username: result.username,
      organization: result.organization,
      deviceName,
      signingKey: key.privateKey,
      totpKey,
      totp,
      pushEnabled: Boolean(delivery),
      createdAt: Date.now(),
    });
    $<HTMLInputElement>("activation-link").value = "";
    await reloadAccounts();
    showActivationMessage("done", "activated", {
      username: result.username,
      organization: result.organization,
    });
  } catch (error) {
    const invalid = error instanceof DeviceAPIError && error.status === 400;
    showActivationMessage("error", invalid ? "activationInvalid" : "activationFailed");
  } finally {
    state.activating = false;
    $<HTMLButtonElement>("activate-button").disabled = false;
  }
}

// ---------------------------------------------------------------- Web Push

function pushSupported(): boolean {
  return "serviceWorker" in navigator && "PushManager" in self && "Notification" in self;
}

/** A Web Push subscription for the activation request, only when permission was already given; never throws. */
async function createPushDelivery(origin: string): Promise<Delivery | undefined> {
  if (!pushSupported() || Notification.permission !== "granted") return undefined;
  try {
    return await withTimeout(subscribe(origin), PUSH_SETUP_TIMEOUT_MS);
  } catch {
    return undefined;
  }
}

async function subscribe(origin: string): Promise<Delivery> {
  const registration = await navigator.serviceWorker.ready;
  const applicationServerKey = decodeBase64url(await fetchVAPIDKey(origin));
  let subscription = await registration.pushManager.getSubscription();
  if (subscription && !sameBytes(subscription.options.applicationServerKey, applicationServerKey)) {
    await subscription.unsubscribe();
    subscription = null;
  }
  subscription ??= await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey });
  const { endpoint, keys } = subscription.toJSON();
  return {
    type: "webpush",
    subscription: {
      endpoint: endpoint ?? "",
      keys: { p256dh: keys?.["p256dh"] ?? "", auth: keys?.["auth"] ?? "" },
    },
  };
}

function sameBytes(a: ArrayBuffer | null, b: Uint8Array): boolean {
  if (!a) return false;
  const x = new Uint8Array(a);
  return x.length === b.length && x.every((v, i) => v === b[i]);
}

async function enableNotifications(): Promise<void> {
  const button = $<HTMLButtonElement>("enable-notifications");
  button.disabled = true;
  try {
    if ((await Notification.requestPermission()) !== "granted") throw new Error("permission refused");
    const delivery = await withTimeout(subscribe(location.origin), PUSH_SETUP_TIMEOUT_MS);
    for (const account of state.accounts.filter((a) => a.origin === location.origin && !a.pushEnabled)) {
      await putDelivery(account, delivery);
      await saveAccount({ ...account, pushEnabled: true });
    }
    state.notificationMessage = "notificationsOn";
  } catch {
    state.notificationMessage = "notificationsUnavailable";
  } finally {
    button.disabled = false;
    await reloadAccounts();
    renderNotificationMessage();
  }
}

function renderNotificationsButton(): void {
  $("enable-notifications").hidden = !(
    pushSupported() &&
    Notification.permission !== "denied" &&
    state.accounts.some((a) => a.origin === location.origin && !a.pushEnabled)
  );
}

function renderNotificationMessage(): void {
  $("notification-status").textContent = state.notificationMessage ? t(state.notificationMessage) : "";
}

async function closeNotification(txid: string): Promise<void> {
  try {
    const registration = await navigator.serviceWorker?.getRegistration(SCOPE);
    for (const notification of (await registration?.getNotifications({ tag: `push-${txid}` })) ?? [])
      notification.close();
  } catch {
    // No notifications to close.
  }
}

// ---------------------------------------------------------------- camera

async function toggleScan(): Promise<void> {
  if (state.scan) {
    state.scan.abort();
    return;
  }
  const controller = new AbortController();
  state.scan = controller;
  $("scanner").hidden = false;
  $("scan-button").textContent = t("stopScanButton");
  $("scan-button").setAttribute("aria-expanded", "true");
  try {
    const text = await scanQRCode({
      video: $<HTMLVideoElement>("camera"),
      signal: controller.signal,
      accept: (value) => parseActivationLink(value) !== null,
    });
    stopScanUI();
    await activate(text);
  } catch (error) {
    if ((error as Error | undefined)?.name !== "AbortError")
      showActivationMessage("error", "cameraUnavailable");
  } finally {
    stopScanUI();
  }
}

function stopScanUI(): void {
  state.scan = null;
  $("scanner").hidden = true;
  $("scan-button").textContent = t("scanButton");
  $("scan-button").setAttribute("aria-expanded", "false");
}

// ---------------------------------------------------------------- page

function applyText(): void {
  document.title = t("appTitle");
  translateElements(document);
  $("scan-button").textContent = t(state.scan ? "stopScanButton" : "scanButton");
  for (const view of state.accountViews.values()) view.applyText();
  for (const view of state.requests.values()) view.applyText();
  renderConnection();
  renderActivationMessage();
  renderNotificationMessage();
}

function setUpControls(): void {
  const select = $<HTMLSelectElement>("language");
  for (const language of LANGUAGES)
    select.append(h("option", { value: language, lang: language }, languageName(language)));
  select.value = currentLanguage();
  select.addEventListener("change", () => {
    setLanguage(select.value, { remember: true });
    applyText();
  });
  $("activate-form").addEventListener("submit", (event) => {
    event.preventDefault();
    void activate($<HTMLInputElement>("activation-link").value);
  });
  $("scan-button").hidden = !navigator.mediaDevices?.getUserMedia;
  $("scan-button").addEventListener("click", () => void toggleScan());
  $("enable-notifications").addEventListener("click", () => void enableNotifications());
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") feed.refresh();
  });
  self.addEventListener("online", () => feed.refresh());
  self.addEventListener("hashchange", () => void handleFragment());
}

/** `#activate=<token>` activates; `#push=<txid>` (a notification click) shows that request. */
async function handleFragment(): Promise<void> {
  if (!location.hash) return;
  const params = new URLSearchParams(location.hash.slice(1));
  // The token must not stay in the address bar or the history.
  history.replaceState(null, "", location.pathname + location.search);
  const push = params.get("push");
  if (push && !focusRequest(push)) {
    state.focusTxid = push;
    feed.refresh();
  }
  const token = params.get("activate");
  if (token !== null) await activate(token);
}

/**
 * The page enforces Trusted Types (see the route's CSP): registering a worker needs a TrustedScriptURL. This
 * one policy vouches for the worker's URL and nothing else.
 */
interface TrustedTypePolicyLike {
  createScriptURL(url: string): string;
}
const trustedTypes = (
  self as {
    trustedTypes?: {
      createPolicy(name: string, rules: { createScriptURL(url: string): string }): TrustedTypePolicyLike;
    };
  }
).trustedTypes;
const scriptURLs = trustedTypes?.createPolicy("twofold-authenticator", {
  createScriptURL: (url: string) => {
    if (url !== SERVICE_WORKER_URL) throw new TypeError(`not a script of this app: ${url}`);
    return url;
  },
});

function registerServiceWorker(): void {
  if (!("serviceWorker" in navigator)) return;
  const url = scriptURLs ? scriptURLs.createScriptURL(SERVICE_WORKER_URL) : SERVICE_WORKER_URL;
  navigator.serviceWorker
    .register(url, { scope: SCOPE, updateViaCache: "none" })
    // Without the worker the app still works online; the console tells a developer why it is missing.
    .catch((error) => console.warn("Twofold Authenticator: no service worker:", error));
  navigator.serviceWorker.addEventListener("message", (event) => {
    const message = event.data;
    if (message?.type === "push") feed.refresh();
    if (message?.type === "open-push" && typeof message.txid === "string" && !focusRequest(message.txid)) {
      state.focusTxid = message.txid;
      feed.refresh();
    }
  });
}

function tick(): void {
  const now = Date.now();
  for (const view of state.accountViews.values()) void view.tick(now);
  for (const view of state.requests.values()) view.tick(now);
  setTimeout(tick, 1000 - (Date.now() % 1000) + 5);
}

async function main(): Promise<void> {
  setLanguage(initialLanguage());
  setUpControls();
  applyText();
  registerServiceWorker();
  await reloadAccounts();
  renderRequestsEmpty();
  tick();
  await handleFragment();
  document.body.dataset.ready = "true";
}

void main();
