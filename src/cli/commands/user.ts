// `twofold user …`: add, list, show, import, enable/disable, alias, delete and unlock users; trusted browsers; enrolment reset.

import type { UserStatus } from "../../core/model.ts";
import type { Services } from "../../core/services.ts";
import { MAX_IMPORT_BYTES } from "../../core/tokens/imported-token.ts";
import { toPublicToken } from "../../core/use-cases/hardware-tokens.ts";
import { type PublicUser, toPublicUser } from "../../core/use-cases/users.ts";
import { type Command, type CommandContext, UsageError } from "../command.ts";
import { shellWord } from "../command-line.ts";
import { readInputFile, readStdinText } from "../input.ts";
import { type Column, isoTime } from "../output.ts";
import { createProgress } from "../progress.ts";
import { parseUserCSV } from "../user-csv.ts";

const STATUSES: readonly UserStatus[] = ["active", "bypass", "disabled"];

const USER_COLUMNS: Column<PublicUser>[] = [
  { header: "USERNAME", value: (u) => u.username },
  { header: "STATUS", value: (u) => u.status },
  { header: "NAME", value: (u) => u.realName },
  { header: "EMAIL", value: (u) => u.email },
  { header: "PHONE", value: (u) => u.phone },
  { header: "CREATED", value: (u) => isoTime(u.createdAt) },
  { header: "ID", value: (u) => u.id },
];

function parseStatus(value: string | undefined): UserStatus | undefined {
  if (value === undefined) return undefined;
  if (!STATUSES.includes(value as UserStatus))
    throw new UsageError(`status must be one of ${STATUSES.join(", ")}, got ${JSON.stringify(value)}`);
  return value as UserStatus;
}

function printUser(ctx: CommandContext, user: PublicUser, verb: string): void {
  ctx.out.data(user, () => {
    ctx.out.line(`${verb} user ${user.username} (${user.id}), status ${user.status}`);
  });
}

function setStatus(status: UserStatus, verb: string): Command["run"] {
  return async (ctx) => {
    const { services } = await ctx.runtime();
    printUser(ctx, await services.setUserStatus(ctx.actor, ctx.args[0]!, status), verb);
    return 0;
  };
}

/** One user claiming a contested name, with what tells the operator which one is real. */
export interface CollisionClaimant {
  id: string;
  username: string;
  status: UserStatus;
  createdAt: string | null;
  devices: number;
  authenticators: number;
}

export interface CollisionView {
  name: string;
  detectedAt: string | null;
  users: CollisionClaimant[];
}

/** Contested names as the CLI shows them, with each claimant's status and factors (times as ISO text). */
export function viewCollisions(
  described: Awaited<ReturnType<Services["describeUsernameCollisions"]>>,
): CollisionView[] {
  return described.map(({ collision, users }) => ({
    name: collision.canonical,
    detectedAt: isoTime(collision.detectedAt),
    users: users.map((u) => ({ ...u, createdAt: isoTime(u.createdAt) })),
  }));
}

export function printCollisions(ctx: CommandContext, collisions: readonly CollisionView[]): void {
  for (const c of collisions) {
    ctx.out.line(
      `COLLISION: ${JSON.stringify(c.name)} is claimed by ${c.users.length} users and names none of them; ` +
        "nothing was merged",
    );
    ctx.out.table(c.users, [
      { header: "ID", value: (u) => u.id },
      { header: "USERNAME", value: (u) => u.username },
      { header: "STATUS", value: (u) => u.status },
      { header: "CREATED", value: (u) => u.createdAt },
      { header: "DEVICES", value: (u) => String(u.devices) },
      { header: "OTP", value: (u) => String(u.authenticators) },
    ]);
  }
  if (collisions.length > 0)
    ctx.out.line(
      "Settle each by deleting (twofold user delete ID --yes) or renaming (twofold user rename ID NEWNAME) " +
        "all but the real user; the name works again at once.",
    );
}

export const userCommands: Command[] = [
  {
    path: ["user", "add"],
    summary: "create a user",
    args: [{ name: "USERNAME" }],
    options: {
      email: { type: "string", value: "E", description: "e-mail address" },
      name: { type: "string", value: "REAL", description: "real name" },
      phone: { type: "string", value: "+E164", description: "phone number, e.g. +886912345678" },
      "password-stdin": { type: "boolean", description: "read a local password from stdin" },
      status: { type: "string", value: "S", description: "active (default), bypass or disabled" },
      language: {
        type: "string",
        value: "L",
        description: "language of the user's e-mail notifications: en or zh-Hant (default: mail.language)",
      },
    },
    async run(ctx) {
      const status = parseStatus(ctx.string("status"));
      const language = ctx.string("language");
      const password = ctx.flag("password-stdin") ? await readStdinText(ctx.stdin) : undefined;
      if (password === "") throw new UsageError("--password-stdin: stdin was empty");
      const { services } = await ctx.runtime();
      const user = await services.createUser(ctx.actor, {
        username: ctx.args[0]!,
        email: ctx.string("email") ?? null,
        realName: ctx.string("name") ?? null,
        phone: ctx.string("phone") ?? null,
        ...(status ? { status } : {}),
        ...(password ? { password } : {}),
        ...(language ? { language: language as "en" | "zh-Hant" } : {}),
      });
      printUser(ctx, user, "created");
      return 0;
    },
  },
  {
    path: ["user", "list"],
    summary: "list users",
    options: {
      search: { type: "string", value: "S", description: "part of the username, e-mail or name" },
      limit: { type: "string", value: "N", description: "at most N users (default 100)" },
      offset: { type: "string", value: "N", description: "skip the first N users" },
    },
    async run(ctx) {
      const limit = ctx.integer("limit", 1, 10_000) ?? 100;
      const offset = ctx.integer("offset", 0, Number.MAX_SAFE_INTEGER) ?? 0;
      const { services } = await ctx.runtime();
      const search = ctx.string("search");
      const { users, total } = await services.listUsers({ limit, offset, ...(search ? { search } : {}) });
      const list = users.map(toPublicUser);
      ctx.out.data({ users: list, total }, () => {
        ctx.out.table(list, USER_COLUMNS, "(no users)");
        if (total > offset + list.length)
          ctx.out.note(`showing ${list.length} of ${total}; use --offset ${offset + list.length} for more`);
      });
      return 0;
    },
  },
  {
    path: ["user", "show"],
    summary: "show a user: status, aliases, factors and lockouts",
    args: [{ name: "USER" }],
    async run(ctx) {
      const runtime = await ctx.runtime();
      const { services } = runtime;
      const user = await services.requireUser(ctx.args[0]!);
      const aliases = await services.listUserAliases(user.id);
      const { credentials } = await services.listOTPCredentials({ userId: user.id });
      const factors = credentials.map(toPublicToken);
      const bypassLive = (await services.listLiveBypassCodes(user.id)).length;
      const rescueUnused = await services.countUnusedRescueCodes(user.id);
      // Why each factor class refuses attempts and until when (A6): what the service desk tells the user.
      const lockouts = await services.listUserLockouts(user.id);
      const firstFactorAt = await services.getFirstFactorAt(user.id);
      const trustedBrowsers = (await services.listTrustedBrowsers(user.id)).filter(
        (b) => b.status === "active",
      ).length;
      const shown = {
        user: toPublicUser(user),
        aliases,
        authenticatorApps: factors.filter((f) => f.kind === "app"),
        tokens: factors.filter((f) => f.kind === "token"),
        liveBypassCodes: bypassLive,
        unusedRescueCodes: rescueUnused,
        firstFactorAt,
        trustedBrowsers,
        lockouts,
      };
      ctx.out.data(shown, () => {
        const u = shown.user;
        const o = ctx.out;
        o.line(`${u.username} (${u.id})`);
        o.line(`  status:     ${u.status}`);
        o.line(`  name:       ${u.realName ?? "-"}`);
        o.line(`  e-mail:     ${u.email ?? "-"}`);
        o.line(`  phone:      ${u.phone ?? "-"}`);
        o.line(`  password:   ${u.hasPassword ? "local password set" : "none"}`);
        o.line(`  aliases:    ${aliases.length > 0 ? aliases.join(", ") : "-"}`);
        o.line(`  created:    ${isoTime(u.createdAt)}`);
        o.line("factors:");
        for (const f of shown.authenticatorApps)
          o.line(
            `  authenticator app ${f.id} (${f.label ?? "-"}): ${f.status}, ${f.type} ${f.digits} digits`,
          );
        for (const t of shown.tokens)
          o.line(
            `  hardware token ${t.serial} (${t.type}): ${t.status}, lent ${isoTime(t.assignedAt) ?? "-"}`,
          );
        o.line(`  live bypass codes:   ${bypassLive}`);
        o.line(`  unused rescue codes: ${rescueUnused}`);
        o.line(`  trusted browsers:    ${trustedBrowsers}`);
        o.line(
          `  first factor:        ${firstFactorAt === null ? "never (may enrol where an application offers it)" : isoTime(firstFactorAt)}`,
        );
        o.line("lockouts:");
        if (lockouts.length === 0) o.line("  none");
        for (const l of lockouts) {
          const why =
            l.state === "locked"
              ? `locked after too many failed attempts until ${isoTime(l.retryAt)}`
              : l.state === "delayed"
                ? `next attempt accepted from ${isoTime(l.retryAt)}`
                : "accepting attempts";
          o.line(
            `  ${l.factorClass}: ${why} (${l.failures} consecutive failures, last ${isoTime(l.lastFailureAt) ?? "-"})`,
          );
        }
      });
      return 0;
    },
  },
  {
    path: ["user", "collisions"],
    summary: "list names that more than one user claims (they name none of them until settled)",
    details:
      "A collision appears when adding a domain to identity.stripDomains makes two users' names one\n" +
      "(bob@corp and bob). Nothing is merged: the name names nobody until all but one are deleted or renamed.",
    async run(ctx) {
      const { services } = await ctx.runtime();
      const collisions = viewCollisions(
        await services.describeUsernameCollisions(await services.listUsernameCollisions()),
      );
      ctx.out.data({ collisions }, () => {
        if (collisions.length === 0) ctx.out.line("no username collisions");
        printCollisions(ctx, collisions);
      });
      return 0;
    },
  },
  {
    path: ["user", "rename"],
    summary: "change a user's username",
    args: [{ name: "USER" }, { name: "NEWNAME" }],
    async run(ctx) {
      const { services } = await ctx.runtime();
      const [user, username] = ctx.args as [string, string];
      printUser(ctx, await services.updateUser(ctx.actor, user, { username }), "renamed");
      return 0;
    },
  },
  {
    path: ["user", "import"],
    summary: "create users from a CSV file (header username,email,name,phone); all or nothing",
    args: [{ name: "FILE.csv" }],
    details:
      "Columns are found by header name (username is required; email, name, phone, status optional).\n" +
      "Any problem refuses the whole file, listing every line at fault.",
    async run(ctx) {
      const rows = parseUserCSV(readInputFile(ctx.path(ctx.args[0]!), MAX_IMPORT_BYTES).toString("utf8"));
      const { services } = await ctx.runtime();
      const progress = createProgress("importing users", ctx.stderr);
      progress.update(0, rows.length);
      const { created } = await services.importUsers(ctx.actor, rows, (done, total) =>
        progress.update(done, total),
      );
      progress.finish();
      ctx.out.data({ created }, () => ctx.out.line(`imported ${created} user${created === 1 ? "" : "s"}`));
      return 0;
    },
  },
  {
    path: ["user", "disable"],
    summary: "disable a user (every authentication is denied)",
    args: [{ name: "USER" }],
    run: setStatus("disabled", "disabled"),
  },
  {
    path: ["user", "enable"],
    summary: "make a user active again",
    args: [{ name: "USER" }],
    run: setStatus("active", "enabled"),
  },
  {
    path: ["user", "alias"],
    summary: "add another name the user can be found by",
    args: [{ name: "USER" }, { name: "ALIAS" }],
    async run(ctx) {
      const { services } = await ctx.runtime();
      const [user, alias] = ctx.args as [string, string];
      await services.addUserAlias(ctx.actor, user, alias);
      ctx.out.data({ user, alias }, () => ctx.out.line(`${alias} now also names ${user}`));
      return 0;
    },
  },
  {
    path: ["user", "delete"],
    summary: "delete a user and all their factors",
    args: [{ name: "USER" }],
    synopsis: "--yes",
    options: { yes: { type: "boolean", description: "confirm the deletion" } },
    async run(ctx) {
      if (!ctx.flag("yes"))
        throw new UsageError(
          "deleting a user removes all their factors and cannot be undone",
          `run \`${ctx.commandLine(`user delete ${shellWord(ctx.args[0]!)} --yes`)}\` to confirm`,
        );
      const { services } = await ctx.runtime();
      await services.deleteUser(ctx.actor, ctx.args[0]!);
      ctx.out.data({ deleted: ctx.args[0] }, () => ctx.out.line(`deleted user ${ctx.args[0]}`));
      return 0;
    },
  },
  {
    path: ["user", "browsers"],
    summary: "list a user's trusted browsers, or revoke one or all of them",
    args: [{ name: "USER" }, { name: "revoke", optional: true }, { name: "ID", optional: true }],
    synopsis: "[--all] [--for-user]",
    details:
      '`twofold user browsers alice` lists alice\'s trusted browsers ("Yes, trust this browser").\n' +
      "`twofold user browsers alice revoke TB…` revokes one; `… revoke --all` revokes every one.\n" +
      "--for-user records the revocation as the user's own (they asked the service desk).\n" +
      "Trusted browsers are also revoked on their own when a factor is added or removed, a phone\n" +
      "changes, fraud is reported on a push, or the user is disabled.",
    options: {
      all: { type: "boolean", description: "with revoke: every trusted browser of the user" },
      "for-user": { type: "boolean", description: "record the revocation as asked by the user" },
    },
    async run(ctx) {
      const [user, action, id] = ctx.args as [string, string | undefined, string | undefined];
      const { services } = await ctx.runtime();
      if (action === undefined) {
        const browsers = await services.listTrustedBrowsers(user);
        ctx.out.data({ user, browsers }, () =>
          ctx.out.table(
            browsers,
            [
              { header: "ID", value: (b) => b.id },
              { header: "APPLICATION", value: (b) => b.application ?? b.applicationId },
              { header: "BROWSER", value: (b) => b.browser },
              {
                header: "STATUS",
                value: (b) => (b.revokedReason ? `${b.status} (${b.revokedReason})` : b.status),
              },
              { header: "TRUSTED", value: (b) => isoTime(b.createdAt) },
              { header: "LAST USED", value: (b) => isoTime(b.lastUsedAt) },
              { header: "UNTIL", value: (b) => isoTime(b.expiresAt) },
            ],
            "(no trusted browsers)",
          ),
        );
        return 0;
      }
      if (action !== "revoke")
        throw new UsageError(`unknown action ${JSON.stringify(action)}`, "the only action is `revoke`");
      const by = ctx.flag("for-user") ? "user" : "admin";
      if (ctx.flag("all")) {
        if (id !== undefined) throw new UsageError("give a browser id or --all, not both");
        const revoked = await services.revokeAllTrustedBrowsers(ctx.actor, user, by);
        ctx.out.data({ user, revoked }, () =>
          ctx.out.line(`revoked ${revoked} trusted browser${revoked === 1 ? "" : "s"} of ${user}`),
        );
        return 0;
      }
      if (id === undefined)
        throw new UsageError(
          "which browser?",
          `give its id (\`${ctx.commandLine(`user browsers ${shellWord(user)}`)}\` lists them) or --all`,
        );
      await services.revokeTrustedBrowser(ctx.actor, user, id, by);
      ctx.out.data({ user, revoked: id }, () => ctx.out.line(`revoked trusted browser ${id} of ${user}`));
      return 0;
    },
  },
  {
    path: ["user", "reset-enrollment"],
    summary: "let a user whose second factors were removed enrol again as a new user (audited)",
    args: [{ name: "USER" }],
    details:
      "Only a user who never had a second factor may enrol in the prompt or be let in by a new-user\n" +
      "policy (CISA AA22-074A: a dormant account must not be re-enrolled by whoever has its password).\n" +
      "After checking the person's identity, remove their factors, then run this. Refused while the\n" +
      "user still has a second factor.",
    async run(ctx) {
      const { services } = await ctx.runtime();
      const changed = await services.resetEnrollment(ctx.actor, ctx.args[0]!);
      ctx.out.data({ user: ctx.args[0], reset: changed }, () =>
        ctx.out.line(
          changed
            ? `${ctx.args[0]} may enrol again where an application offers enrolment`
            : `${ctx.args[0]} had no second factor recorded; nothing to reset`,
        ),
      );
      return 0;
    },
  },
  {
    path: ["user", "unlock"],
    summary: "clear a user's lockouts (after checking their identity)",
    args: [{ name: "USER" }],
    async run(ctx) {
      const { services } = await ctx.runtime();
      const cleared = await services.unlockUser(ctx.actor, ctx.args[0]!);
      ctx.out.data({ user: ctx.args[0], cleared }, () =>
        ctx.out.line(
          `unlocked ${ctx.args[0]} (${cleared} lockout counter${cleared === 1 ? "" : "s"} cleared)`,
        ),
      );
      return 0;
    },
  },
];
