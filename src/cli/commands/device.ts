// `twofold device …`: the command-line Twofold Authenticator (activate, list and answer pushes, passcodes); HTTP only, no database.
import { readFileSync } from "node:fs";
import { homedir, hostname } from "node:os";
import { join } from "node:path";
import {
  type ActivationLink,
  activateDevice,
  DeviceClient,
  type DeviceClientOptions,
  type DevicePush,
  type PushDecision,
  parseActivationLink,
} from "../../client/device-client.ts";
import {
  type DeviceAccount,
  type DeviceState,
  readDeviceState,
  readDeviceStateOrEmpty,
  writeDeviceState,
} from "../../client/device-state.ts";
import { isTwofoldError, TwofoldError } from "../../core/errors.ts";
import type { PushStatus } from "../../core/model.ts";
import { type Command, type CommandContext, type OptionSpec, UsageError } from "../command.ts";
import { shellWord } from "../command-line.ts";
import { prompt, readInputFile, readStdinText } from "../input.ts";
import { isoTime, toJSONValue } from "../output.ts";

const STATE_OPTION: Record<string, OptionSpec> = {
  state: {
    type: "string",
    value: "FILE",
    description: "state file (default: $TWOFOLD_DEVICE_STATE or ~/.config/twofold/device.json)",
  },
};

const NETWORK_OPTIONS: Record<string, OptionSpec> = {
  ...STATE_OPTION,
  ca: {
    type: "string",
    value: "FILE",
    description: "also trust this PEM CA for the server's TLS certificate (or set NODE_EXTRA_CA_CERTS)",
  },
};

const ACCOUNT_OPTION: Record<string, OptionSpec> = {
  account: {
    type: "string",
    value: "A",
    description: "the account: username, username@host or device id (default: every account)",
  },
};

function statePath(ctx: CommandContext): string {
  const configured = ctx.string("state") ?? ctx.env["TWOFOLD_DEVICE_STATE"];
  if (configured) return ctx.path(configured);
  const base = ctx.env["XDG_CONFIG_HOME"] || join(homedir(), ".config");
  return join(base, "twofold", "device.json");
}

function clientOptions(ctx: CommandContext): DeviceClientOptions {
  const ca = ctx.string("ca");
  return ca ? { ca: readInputFile(ctx.path(ca), 1024 * 1024).toString("utf8") } : {};
}

/** `alice@twofold.example.edu`: how an account is shown and can be named. */
function accountLabel(a: DeviceAccount): string {
  return `${a.username}@${new URL(a.server).host}`;
}

function loadState(ctx: CommandContext): { path: string; state: DeviceState } {
  const path = statePath(ctx);
  const { state, exposed } = readDeviceState(path);
  warnIfExposed(ctx, path, exposed);
  return { path, state };
}

function warnIfExposed(ctx: CommandContext, path: string, exposed: boolean): void {
  if (exposed)
    ctx.out.note(
      `warning: ${path} can be read by other users and holds this device's private key: chmod 600 ${path}`,
    );
}

/** The accounts `--account` names (all of them when it is absent); a usage error when it names none. */
function selectAccounts(ctx: CommandContext, state: DeviceState, path: string): DeviceAccount[] {
  if (state.accounts.length === 0)
    throw new TwofoldError(
      "ERR_NOT_FOUND",
      `no accounts in ${path}: activate one first (twofold device activate LINK)`,
    );
  const wanted = ctx.string("account");
  if (wanted === undefined) return state.accounts;
  const found = state.accounts.filter(
    (a) => a.deviceId === wanted || a.username === wanted || accountLabel(a) === wanted,
  );
  if (found.length === 0)
    throw new UsageError(
      `no account ${JSON.stringify(wanted)} in ${path}`,
      `the accounts are: ${state.accounts.map(accountLabel).join(", ")} (see \`twofold device accounts\`)`,
    );
  return found;
}

async function withClients<T>(
  ctx: CommandContext,
  accounts: DeviceAccount[],
  use: (clients: DeviceClient[]) => Promise<T>,
): Promise<T> {
  const options = clientOptions(ctx);
  const clients = accounts.map((a) => new DeviceClient(a, options));
  try {
    return await use(clients);
  } catch (error) {
    throw explainDeviceError(error);
  } finally {
    for (const c of clients) c.close();
  }
}

/** The server's generic 401 says little; on a device the two usual causes are known. */
function explainDeviceError(error: unknown): unknown {
  if (isTwofoldError(error) && error.code === "ERR_UNAUTHENTICATED")
    return new TwofoldError(
      "ERR_UNAUTHENTICATED",
      "the server refused this device's signature: the device was revoked, or this computer's clock is more than 60 s off",
      { cause: error },
    );
  return error;
}

function pushView(account: DeviceAccount, p: DevicePush) {
  return {
    txid: p.txid,
    username: account.username,
    deviceId: account.deviceId,
    application: p.application,
    at: p.time,
    ip: p.ip,
    place: p.place,
    info: p.info,
    expiresAt: p.expiresAt,
    verified: p.verified,
    codeDigits: p.codeDigits,
  };
}

/** Control characters in server-supplied text must not drive the terminal. */
function plain(text: string | null | undefined): string {
  return (text ?? "").replace(/[\p{Cc}]/gu, "?");
}

function describePush(p: DevicePush): string {
  const from = [p.ip, p.place].filter(Boolean).map(plain).join(", ");
  const parts = [`push ${p.txid}: login to ${plain(p.application) || "an application"}`];
  if (from) parts.push(`from ${from}`);
  if (p.verified) parts.push(`(type the ${p.codeDigits}-digit code shown on the login screen)`);
  return parts.join(" ");
}

/** Which account a txid belongs to: the only one, or the one whose pending list has it (if any has). */
async function findPush(
  clients: DeviceClient[],
  txid: string,
): Promise<{ client: DeviceClient | undefined; push: DevicePush | undefined }> {
  if (clients.length === 1) return { client: clients[0]!, push: undefined };
  const lists = await Promise.all(clients.map((c) => c.pending()));
  const i = lists.findIndex((l) => l.some((p) => p.txid === txid));
  if (i === -1) return { client: undefined, push: undefined };
  return { client: clients[i]!, push: lists[i]!.find((p) => p.txid === txid) };
}

/**
 * A push no account lists as pending (answered, expired, or unknown): answer it from each account in turn so
 * the owner's server says what happened to it. Another user's device is refused (ERR_PUSH_ANSWER_INVALID)
 * without effect, and an unknown txid is ERR_PUSH_NOT_FOUND on that server.
 */
async function answerFromAny(
  clients: DeviceClient[],
  txid: string,
  decision: PushDecision,
): Promise<PushStatus> {
  for (const client of clients) {
    try {
      return await client.answer(txid, decision);
    } catch (error) {
      if (!isTwofoldError(error) || !["ERR_PUSH_ANSWER_INVALID", "ERR_PUSH_NOT_FOUND"].includes(error.code))
        throw error;
    }
  }
  throw new TwofoldError("ERR_PUSH_NOT_FOUND", `no account has a push ${txid}`);
}

const EXPECTED: Record<PushDecision, PushStatus> = { approve: "approved", deny: "denied", fraud: "fraud" };

function answerCommand(decision: PushDecision, summary: string, details: string): Command {
  return {
    path: ["device", decision],
    summary,
    args: [{ name: "TXID" }],
    options: {
      ...(decision === "approve"
        ? {
            code: {
              type: "string",
              value: "C",
              description: "the code shown on the login screen (verified pushes)",
            },
          }
        : {}),
      ...ACCOUNT_OPTION,
      ...NETWORK_OPTIONS,
    },
    details,
    async run(ctx) {
      const txid = ctx.args[0]!;
      const { path, state } = loadState(ctx);
      const accounts = selectAccounts(ctx, state, path);
      return withClients(ctx, accounts, async (clients) => {
        const found = await findPush(clients, txid);
        let code = decision === "approve" ? ctx.string("code")?.trim() : undefined;
        if (decision === "approve" && !code && found.client) {
          // Find out whether the login screen shows a code before approving without one (D1).
          const push = found.push ?? (await found.client.pending()).find((p) => p.txid === txid);
          if (push?.verified) code = await askForCode(ctx, push);
        }
        const status = found.client
          ? await found.client.answer(txid, decision, code)
          : await answerFromAny(clients, txid, decision);
        const ok = status === EXPECTED[decision];
        ctx.out.data({ txid, decision, status }, () =>
          ctx.out.line(
            ok || decision !== "approve"
              ? status
              : `${status}: the login was not approved (wrong code, or the account is locked)`,
          ),
        );
        return ok ? 0 : 1;
      });
    },
  };
}

async function askForCode(ctx: CommandContext, push: DevicePush): Promise<string> {
  const question = `Type the ${push.codeDigits}-digit code shown on the login screen: `;
  const typed = ctx.stdin.isTTY && !ctx.json ? await prompt(question, ctx.stdin, ctx.stderr) : undefined;
  if (typed?.trim()) return typed.trim();
  throw new UsageError(
    `push ${push.txid} asks for the ${push.codeDigits}-digit code shown on the login screen`,
    `add --code CODE`,
  );
}

/** Lines `TXID CODE` in a file another program writes (a test or benchmark that started the pushes). */
async function codeFromFile(file: string, txid: string, stop: AbortSignal): Promise<string | undefined> {
  for (let waited = 0; waited <= 10_000 && !stop.aborted; waited += 100) {
    let text = "";
    try {
      text = readFileSync(file, "utf8");
    } catch {
      // Not written yet.
    }
    for (const line of text.split(/\r?\n/)) {
      const [id, code] = line.trim().split(/\s+/);
      if (id === txid && code) return code;
    }
    await sleep(100, stop);
  }
  return undefined;
}

function sleep(ms: number, stop: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    stop.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

async function watch(ctx: CommandContext, clients: DeviceClient[]): Promise<number> {
  const auto = ctx.string("auto") as PushDecision | undefined;
  if (auto !== undefined && !(auto in EXPECTED))
    throw new UsageError(`--auto must be approve, deny or fraud, got ${JSON.stringify(auto)}`);
  const codeFileOption = ctx.string("code-file");
  const codeFile = codeFileOption === undefined ? undefined : ctx.path(codeFileOption);
  const count = ctx.integer("count", 1, 1_000_000);
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const emit = (value: Record<string, unknown>, human: string) => {
    if (ctx.json) ctx.stdout.write(`${JSON.stringify(toJSONValue(value))}\n`);
    else ctx.out.line(human);
  };
  const seen = new Set<string>();
  /**
   * The answers this watcher is sending, by txid. The server tells the stream a push ended as soon as it records
   * the answer, which can be before the answer's own reply arrives: the stream's line for such a push waits for
   * the reply's, so the output reads in the order things were done.
   */
  const answering = new Map<string, Promise<void>>();
  let handled = 0;
  let failure: unknown;

  const onPush = async (client: DeviceClient, push: DevicePush) => {
    // A reconnect replays every pending push: each is handled once.
    if (seen.has(push.txid)) return;
    seen.add(push.txid);
    emit({ event: "push", ...pushView(client.account, push) }, describePush(push));
    if (auto) {
      let code: string | undefined;
      if (auto === "approve" && push.verified) {
        code = codeFile ? await codeFromFile(codeFile, push.txid, stop.signal) : undefined;
        if (!code) {
          ctx.out.note(`push ${push.txid} needs the code from the login screen; not answered`);
          return done();
        }
      }
      const answered = client.answer(push.txid, auto, code).then(
        (status) =>
          emit({ event: "answered", txid: push.txid, decision: auto, status }, `  ${auto} → ${status}`),
        (error: unknown) => ctx.out.note(`push ${push.txid}: ${(error as Error).message}`),
      );
      answering.set(push.txid, answered);
      await answered;
      answering.delete(push.txid);
    }
    done();
  };
  const done = () => {
    handled++;
    if (count !== undefined && handled >= count) stop.abort();
  };

  const follow = async (client: DeviceClient) => {
    let backoff = 1000;
    // What is still under way (an answer, a line waiting for one): settled ones leave, so a long watch holds only these.
    const pending = new Set<Promise<void>>();
    const track = (p: Promise<void>) => {
      pending.add(p);
      const settled = () => pending.delete(p);
      p.then(settled, settled);
    };
    while (!stop.signal.aborted) {
      try {
        await client.stream((e) => {
          backoff = 1000;
          if (e.type === "push") {
            track(onPush(client, e.push));
            return;
          }
          const resolved = () =>
            emit({ event: "resolved", txid: e.txid, status: e.status }, `push ${e.txid}: ${plain(e.status)}`);
          const answer = answering.get(e.txid);
          if (answer) track(answer.then(resolved));
          else resolved();
        }, stop.signal);
      } catch (error) {
        const refused =
          isTwofoldError(error) &&
          !["ERR_SERVER_UNREACHABLE", "ERR_STORE_UNAVAILABLE", "ERR_RATE_LIMITED", "ERR_INTERNAL"].includes(
            error.code,
          );
        if (refused) {
          // The server will not take this device (revoked, clock): retrying cannot help.
          failure = explainDeviceError(error);
          stop.abort();
          break;
        }
        ctx.out.note(`${accountLabel(client.account)}: ${(error as Error).message}; retrying`);
      }
      if (stop.signal.aborted) break;
      await sleep(backoff, stop.signal);
      backoff = Math.min(backoff * 2, 30_000);
    }
    await Promise.all([...pending]);
  };

  try {
    ctx.out.note(
      `watching ${clients.map((c) => accountLabel(c.account)).join(", ")} for pushes (Ctrl-C to stop)`,
    );
    await Promise.all(clients.map(follow));
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  if (failure) throw failure;
  return 0;
}

export const deviceCommands: Command[] = [
  {
    path: ["device", "activate"],
    summary: "activate this computer as a Twofold Authenticator from an activation link",
    args: [{ name: "LINK" }],
    options: {
      name: { type: "string", value: "N", description: "the device's name (default: this host's name)" },
      ...NETWORK_OPTIONS,
    },
    details:
      "LINK is what `twofold push activate USER` prints (https://…/authenticator#activate=…); `-` reads it\n" +
      "from stdin. A new P-256 key is made and saved with the account's passcode seed in the state file\n" +
      "(mode 0600). Several accounts may share one state file.",
    async run(ctx) {
      const given = ctx.args[0] === "-" ? (await readStdinText(ctx.stdin)).trim() : ctx.args[0]!;
      const link: ActivationLink | undefined = parseActivationLink(given);
      if (!link)
        throw new UsageError(
          "this is not an activation link",
          "it looks like https://twofold.example.edu/authenticator#activate=AC….… (quote it in the shell)",
        );
      const url = new URL(link.server);
      if (url.protocol === "http:" && !["localhost", "127.0.0.1", "[::1]"].includes(url.hostname))
        ctx.out.note(
          `warning: ${url.origin} is plain HTTP: the passcode seed crosses the network unencrypted`,
        );
      const path = statePath(ctx);
      // Read before activating: a state file that cannot be read must not be replaced (and a link not wasted).
      const { state, exposed } = readDeviceStateOrEmpty(path);
      warnIfExposed(ctx, path, exposed);
      const name = ctx.string("name")?.trim() || `${hostname()} (twofold device)`;
      let account: DeviceAccount;
      try {
        account = await activateDevice(link, name, clientOptions(ctx));
      } catch (error) {
        if (isTwofoldError(error) && error.code === "ERR_ACTIVATION_INVALID")
          throw new TwofoldError(
            "ERR_ACTIVATION_INVALID",
            "this activation link is not valid: it was used already or has expired; ask for a new one",
            { cause: error },
          );
        throw error;
      }
      state.accounts.push(account);
      writeDeviceState(path, state);
      const shown = {
        username: account.username,
        organization: account.organization,
        server: account.server,
        deviceId: account.deviceId,
        name: account.name,
        state: path,
      };
      ctx.out.data(shown, () => {
        ctx.out.line(
          `Activated ${accountLabel(account)}${account.organization ? ` (${plain(account.organization)})` : ""} as device ${account.deviceId}.`,
        );
        const state = ctx.string("state") ? ` --state ${shellWord(ctx.string("state")!)}` : "";
        ctx.out.line(
          `Saved in ${path}. Try: ${ctx.commandLine(`device pending${state}`)}, ${ctx.commandLine(`device passcode${state}`)}`,
        );
      });
      return 0;
    },
  },
  {
    path: ["device", "accounts"],
    summary: "list the accounts in the state file",
    options: STATE_OPTION,
    async run(ctx) {
      const { state } = loadState(ctx);
      // Never the private key or the seed.
      const rows = state.accounts.map((a) => ({
        account: accountLabel(a),
        username: a.username,
        organization: a.organization,
        server: a.server,
        deviceId: a.deviceId,
        name: a.name,
        activatedAt: a.activatedAt,
        totp: { algorithm: a.totp.algorithm, digits: a.totp.digits, period: a.totp.period },
      }));
      ctx.out.data({ accounts: rows }, () =>
        ctx.out.table(
          rows,
          [
            { header: "ACCOUNT", value: (r) => r.account },
            { header: "ORGANIZATION", value: (r) => r.organization },
            { header: "DEVICE", value: (r) => r.deviceId },
            { header: "NAME", value: (r) => r.name },
            { header: "SERVER", value: (r) => r.server },
            { header: "ACTIVATED", value: (r) => r.activatedAt },
          ],
          "(no accounts)",
        ),
      );
      return 0;
    },
  },
  {
    path: ["device", "pending"],
    summary: "list the logins waiting for an answer",
    options: { ...ACCOUNT_OPTION, ...NETWORK_OPTIONS },
    async run(ctx) {
      const { path, state } = loadState(ctx);
      const accounts = selectAccounts(ctx, state, path);
      const views = await withClients(ctx, accounts, async (clients) =>
        (
          await Promise.all(clients.map(async (c) => (await c.pending()).map((p) => pushView(c.account, p))))
        ).flat(),
      );
      const now = Date.now();
      ctx.out.data({ pushes: views }, () =>
        ctx.out.table(
          views,
          [
            { header: "TXID", value: (v) => v.txid },
            ...(accounts.length > 1
              ? [{ header: "ACCOUNT", value: (v: (typeof views)[0]) => v.username }]
              : []),
            { header: "APPLICATION", value: (v) => v.application },
            { header: "TIME", value: (v) => isoTime(v.at) },
            { header: "FROM", value: (v) => [v.ip, v.place].filter(Boolean).join(", ") },
            { header: "CODE", value: (v) => (v.verified ? `${v.codeDigits} digits` : "") },
            { header: "EXPIRES", value: (v) => `${Math.max(0, Math.round((v.expiresAt - now) / 1000))} s` },
            { header: "INFO", value: (v) => v.info },
          ],
          "(no pending logins)",
        ),
      );
      return 0;
    },
  },
  answerCommand(
    "approve",
    "approve a login (a verified push needs the code shown on the login screen)",
    "Exit code: 0 when the login is approved, 1 when it is not (a wrong code denies it and counts as a\n" +
      "failed attempt). On a terminal, asks for a missing code.",
  ),
  answerCommand("deny", "deny a login", "Exit code: 0 when the login is denied."),
  answerCommand(
    "fraud",
    'deny a login and report it ("This wasn\'t me"): pushes to the account stop until cleared',
    "Exit code: 0 when the report is recorded.",
  ),
  {
    path: ["device", "passcode"],
    summary: "show the current passcode (works offline) and how long it stays valid",
    options: { ...ACCOUNT_OPTION, ...STATE_OPTION },
    async run(ctx) {
      const { path, state } = loadState(ctx);
      const accounts = selectAccounts(ctx, state, path);
      const now = Date.now();
      const rows = accounts.map((a) => {
        const client = new DeviceClient(a, { now: () => now });
        const p = client.passcode(now);
        client.close();
        return {
          account: accountLabel(a),
          username: a.username,
          deviceId: a.deviceId,
          code: p.code,
          secondsLeft: p.secondsLeft,
          period: p.period,
        };
      });
      ctx.out.data({ passcodes: rows }, () => {
        if (rows.length === 1) ctx.out.line(`${rows[0]!.code}  (${rows[0]!.secondsLeft} s left)`);
        else
          ctx.out.table(rows, [
            { header: "ACCOUNT", value: (r) => r.account },
            { header: "PASSCODE", value: (r) => r.code },
            { header: "LEFT", value: (r) => `${r.secondsLeft} s` },
          ]);
      });
      return 0;
    },
  },
  {
    path: ["device", "watch"],
    summary: "follow the live stream of logins; optionally answer each one automatically",
    options: {
      auto: { type: "string", value: "DECISION", description: "answer every push: approve, deny or fraud" },
      "code-file": {
        type: "string",
        value: "FILE",
        description: "with --auto approve: read `TXID CODE` lines for verified pushes from FILE",
      },
      count: { type: "string", value: "N", description: "stop after N pushes" },
      ...ACCOUNT_OPTION,
      ...NETWORK_OPTIONS,
    },
    details:
      "Reconnects when the stream ends. With --json, prints one JSON object per line: push, answered and\n" +
      "resolved events. --auto is for tests and load benchmarks: a person should look at each login.",
    async run(ctx) {
      const { path, state } = loadState(ctx);
      const accounts = selectAccounts(ctx, state, path);
      return withClients(ctx, accounts, (clients) => watch(ctx, clients));
    },
  },
];
