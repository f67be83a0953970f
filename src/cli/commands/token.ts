// `twofold token …`: import hardware tokens (PSKC or CSV), list the inventory, lend, take back, resync, identify.
import { extname } from "node:path";
import { isTwofoldError, TwofoldError } from "../../core/errors.ts";
import type { Services } from "../../core/services.ts";
import { type ImportedToken, MAX_IMPORT_BYTES } from "../../core/tokens/imported-token.ts";
import { type PublicToken, toPublicToken } from "../../core/use-cases/hardware-tokens.ts";
import { type Command, type CommandContext, UsageError } from "../command.ts";
import { readInputFile, readStdinText } from "../input.ts";
import { isoTime } from "../output.ts";
import { createProgress } from "../progress.ts";

type Format = "pskc" | "csv";

const EXTENSIONS: Record<string, Format> = {
  ".csv": "csv",
  ".pskc": "pskc",
  ".pskcxml": "pskc",
  ".xml": "pskc",
};

function chooseFormat(ctx: CommandContext, file: string, content: Buffer): Format {
  const given = ctx.string("format");
  if (given !== undefined) {
    if (given !== "pskc" && given !== "csv")
      throw new UsageError(`--format must be pskc or csv, got ${JSON.stringify(given)}`);
    return given;
  }
  const byName = EXTENSIONS[extname(file).toLowerCase()];
  if (byName) return byName;
  if (content.toString("utf8", 0, 256).trimStart().startsWith("<")) return "pskc";
  throw new UsageError(
    `cannot tell the format of ${file} from its name`,
    "add --format pskc or --format csv",
  );
}

function parsePSK(hex: string | undefined): Uint8Array | undefined {
  if (hex === undefined) return undefined;
  const clean = hex.replace(/[\s:]/g, "");
  if (!/^([0-9a-fA-F]{2})+$/.test(clean) || ![16, 24, 32].includes(clean.length / 2))
    throw new UsageError("--psk must be a 16, 24 or 32-byte AES key in hex (32, 48 or 64 hex digits)");
  return new Uint8Array(Buffer.from(clean, "hex"));
}

async function parseTokens(ctx: CommandContext, file: string): Promise<ImportedToken[]> {
  const content = readInputFile(ctx.path(file), MAX_IMPORT_BYTES);
  const format = chooseFormat(ctx, file, content);
  const preSharedKey = parsePSK(ctx.string("psk"));
  const password = ctx.flag("password-stdin") ? await readStdinText(ctx.stdin) : undefined;
  if (format === "csv" && (preSharedKey || password !== undefined))
    throw new UsageError("--psk and --password-stdin apply to PSKC files only");
  const text = content.toString("utf8");
  // Loaded on use: the PSKC parser brings an XML library the other commands never need.
  const { parseTokenCSV } = await import("../../core/tokens/token-csv.ts");
  const { parsePSKC } = await import("../../core/tokens/pskc.ts");
  try {
    return format === "csv"
      ? parseTokenCSV(text)
      : parsePSKC(text, { ...(preSharedKey ? { preSharedKey } : {}), ...(password ? { password } : {}) });
  } catch (error) {
    throw withNothingImported(error);
  }
}

/** Make sure a failed import says that nothing was imported (every import is all or nothing). */
function withNothingImported(error: unknown): unknown {
  if (!isTwofoldError(error) || /nothing was imported/.test(error.message)) return error;
  return new TwofoldError(error.code, `${error.message}; nothing was imported`, {
    issues: error.issues,
    cause: error,
  });
}

/** Usernames for user ids, looked up once each. */
function usernames(services: Pick<Services, "getUser">): (id: string | null) => Promise<string | null> {
  const cache = new Map<string, Promise<string | null>>();
  return (id) => {
    if (id === null) return Promise.resolve(null);
    let name = cache.get(id);
    if (!name) {
      name = services.getUser(id).then((u) => u?.username ?? null);
      cache.set(id, name);
    }
    return name;
  };
}

async function withUsernames(services: Pick<Services, "getUser">, tokens: PublicToken[]) {
  const lookup = usernames(services);
  return Promise.all(tokens.map(async (t) => ({ ...t, username: await lookup(t.userId) })));
}

type ListedToken = Awaited<ReturnType<typeof withUsernames>>[number];

function printTokens(ctx: CommandContext, tokens: ListedToken[], empty: string): void {
  ctx.out.table(
    tokens,
    [
      { header: "SERIAL", value: (t) => t.serial },
      { header: "TYPE", value: (t) => `${t.type}/${t.algorithm}/${t.digits}` },
      { header: "STATUS", value: (t) => t.status },
      { header: "USER", value: (t) => t.username },
      { header: "LENT", value: (t) => isoTime(t.assignedAt) },
      { header: "DUE", value: (t) => isoTime(t.loanDueAt ?? null) },
      { header: "MODEL", value: (t) => [t.manufacturer, t.model].filter(Boolean).join(" ") },
    ],
    empty,
  );
}

export const tokenCommands: Command[] = [
  {
    path: ["token", "import"],
    summary: "add hardware tokens to the inventory from a PSKC (RFC 6030) or CSV file; all or nothing",
    args: [{ name: "FILE" }],
    options: {
      format: { type: "string", value: "F", description: "pskc or csv (default: from the file name)" },
      psk: { type: "string", value: "HEX", description: "PSKC pre-shared AES key, in hex" },
      "password-stdin": { type: "boolean", description: "read the PSKC password (PBKDF2) from stdin" },
    },
    details: "CSV columns: serial,secret,type,digits,counter_or_period[,algorithm][,manufacturer][,model]",
    async run(ctx) {
      const tokens = await parseTokens(ctx, ctx.args[0]!);
      const { services } = await ctx.runtime();
      const progress = createProgress("importing tokens", ctx.stderr);
      progress.update(0, tokens.length);
      try {
        const { imported } = await services.importTokens(ctx.actor, tokens, (done, total) =>
          progress.update(done, total),
        );
        progress.finish();
        ctx.out.data({ imported }, () =>
          ctx.out.line(`imported ${imported} token${imported === 1 ? "" : "s"}`),
        );
      } catch (error) {
        throw withNothingImported(error);
      }
      return 0;
    },
  },
  {
    path: ["token", "list"],
    summary: "list hardware tokens (never their secrets)",
    options: {
      unassigned: { type: "boolean", description: "only tokens not lent to anyone" },
      limit: { type: "string", value: "N", description: "at most N tokens (default 1000)" },
      offset: { type: "string", value: "N", description: "skip the first N tokens" },
    },
    async run(ctx) {
      const limit = ctx.integer("limit", 1, 100_000) ?? 1000;
      const offset = ctx.integer("offset", 0, Number.MAX_SAFE_INTEGER) ?? 0;
      const { services } = await ctx.runtime();
      const { credentials, total } = await services.listOTPCredentials({
        kind: "token",
        limit,
        offset,
        ...(ctx.flag("unassigned") ? { unassigned: true } : {}),
      });
      const tokens = await withUsernames(services, credentials.map(toPublicToken));
      ctx.out.data({ tokens, total }, () => {
        printTokens(ctx, tokens, "(no tokens)");
        if (total > offset + tokens.length)
          ctx.out.note(
            `showing ${tokens.length} of ${total}; use --offset ${offset + tokens.length} for more`,
          );
      });
      return 0;
    },
  },
  {
    path: ["token", "assign"],
    summary: "lend a token to a user",
    args: [{ name: "SERIAL" }, { name: "USER" }],
    options: {
      due: {
        type: "string",
        value: "DATE",
        description:
          "due back on this date (2026-12-24, UTC) or at this time (ISO 8601): the borrower is e-mailed then",
      },
    },
    async run(ctx) {
      const { services } = await ctx.runtime();
      const [serial, user] = ctx.args as [string, string];
      const due = ctx.string("due");
      const token = await services.assignToken(ctx.actor, serial, user, {
        dueAt: due === undefined ? null : parseDue(due),
      });
      const [shown] = await withUsernames(services, [token]);
      ctx.out.data(shown, () =>
        ctx.out.line(
          `token ${serial} is now lent to ${shown?.username ?? user}${due ? `, due back ${new Date(token.loanDueAt!).toISOString()}` : ""}`,
        ),
      );
      return 0;
    },
  },
  {
    path: ["token", "due"],
    summary: "change when a lent token is due back (none: no due date)",
    args: [{ name: "SERIAL" }, { name: "DATE" }],
    async run(ctx) {
      const { services } = await ctx.runtime();
      const [serial, date] = ctx.args as [string, string];
      const token = await services.setTokenLoanDue(
        ctx.actor,
        serial,
        date === "none" ? null : parseDue(date),
      );
      const [shown] = await withUsernames(services, [token]);
      ctx.out.data(shown, () =>
        ctx.out.line(
          token.loanDueAt
            ? `token ${serial} is due back ${new Date(token.loanDueAt).toISOString()}`
            : `token ${serial} has no due date`,
        ),
      );
      return 0;
    },
  },
  {
    path: ["token", "unassign"],
    summary: "take a token back into the inventory",
    args: [{ name: "SERIAL" }],
    async run(ctx) {
      const { services } = await ctx.runtime();
      await services.unassignToken(ctx.actor, ctx.args[0]!);
      ctx.out.data({ serial: ctx.args[0], userId: null }, () =>
        ctx.out.line(`token ${ctx.args[0]} is back in the inventory`),
      );
      return 0;
    },
  },
  {
    path: ["token", "resync"],
    summary: "resynchronise a token from two consecutive codes",
    args: [{ name: "SERIAL" }, { name: "CODE1" }, { name: "CODE2" }],
    async run(ctx) {
      const { services } = await ctx.runtime();
      const [serial, code1, code2] = ctx.args as [string, string, string];
      await services.resyncToken(ctx.actor, serial, code1, code2);
      ctx.out.data({ serial, resynchronised: true }, () => ctx.out.line(`token ${serial} is resynchronised`));
      return 0;
    },
  },
  {
    path: ["token", "find"],
    summary: "which token shows this code now? (nothing is used up)",
    args: [{ name: "CODE" }],
    async run(ctx) {
      const runtime = await ctx.runtime();
      const tokens = await withUsernames(
        runtime.services,
        await runtime.services.findTokensByCode(ctx.args[0]!),
      );
      ctx.out.data(tokens, () => printTokens(ctx, tokens, "(no token shows this code now)"));
      return 0;
    },
  },
];

/** A due date as typed: a day (midnight UTC) or an ISO 8601 time. */
function parseDue(text: string): number {
  const at = /^\d{4}-\d{2}-\d{2}$/.test(text) ? Date.parse(`${text}T00:00:00Z`) : Date.parse(text);
  if (!Number.isFinite(at)) throw new UsageError(`not a date: ${JSON.stringify(text)} (e.g. 2026-12-24)`);
  return at;
}
