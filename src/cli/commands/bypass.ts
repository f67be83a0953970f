// `twofold bypass …`: issue bypass codes (shown once), list their metadata, revoke them.
import type { PublicBypassCode } from "../../core/use-cases/bypass-codes.ts";
import { type Command, UsageError } from "../command.ts";
import { formatDuration, parseDuration } from "../duration.ts";
import { isoTime } from "../output.ts";

function usesText(uses: number | null): string {
  return uses === null ? "unlimited uses" : `${uses} use${uses === 1 ? "" : "s"}`;
}

export const bypassCommands: Command[] = [
  {
    path: ["bypass", "issue"],
    summary: "issue bypass codes to a user (printed once)",
    args: [{ name: "USER" }],
    options: {
      count: { type: "string", value: "N", description: "how many codes, 1-10 (default 1)" },
      uses: {
        type: "string",
        value: "N",
        description: "uses per code (default and cap from policy; 0 = unlimited)",
      },
      valid: {
        type: "string",
        value: "DURATION",
        description: "validity, e.g. 12h, 90m, 2d (0 = no expiry)",
      },
      "id-check": {
        type: "string",
        value: "TEXT",
        description: 'how identity was checked, e.g. "student card seen"',
      },
      replace: { type: "boolean", description: "revoke the user's existing bypass codes first" },
    },
    async run(ctx) {
      const count = ctx.integer("count", 1, 10);
      const uses = ctx.integer("uses", 0, 1_000_000);
      const validText = ctx.string("valid");
      const validSeconds = validText === undefined ? undefined : parseDuration(validText);
      if (validText !== undefined && validSeconds === undefined)
        throw new UsageError(
          `--valid must be a duration such as 12h, 90m, 30s, 2d, got ${JSON.stringify(validText)}`,
        );
      const idCheck = ctx.string("id-check");
      const { services } = await ctx.runtime();
      const issued = await services.issueBypassCodes(ctx.actor, ctx.args[0]!, {
        ...(count !== undefined ? { count } : {}),
        ...(uses !== undefined ? { uses } : {}),
        ...(validSeconds !== undefined ? { validSeconds } : {}),
        ...(idCheck ? { idCheck, source: "service-desk" as const } : {}),
        replaceExisting: ctx.flag("replace"),
      });
      // Shown once, to the person issuing them; only keyed hashes are stored.
      const codes = issued.codes.reveal();
      const first = issued.records[0]!;
      ctx.out.data(
        {
          codes,
          ids: issued.records.map((r) => r.id),
          uses: first.maxUses,
          expiresAt: first.expiresAt,
        },
        () => {
          ctx.out.line(`Bypass code${codes.length === 1 ? "" : "s"} for ${ctx.args[0]} (shown once):`);
          for (const code of codes) ctx.out.line(`  ${code}`);
          const expiry = first.expiresAt === null ? "never expire" : `expire ${isoTime(first.expiresAt)}`;
          const span =
            first.expiresAt === null
              ? ""
              : ` (${formatDuration(Math.round((first.expiresAt - first.createdAt) / 1000))})`;
          ctx.out.line(`${usesText(first.maxUses)} each; ${expiry}${span}`);
        },
      );
      return 0;
    },
  },
  {
    path: ["bypass", "list"],
    summary: "list a user's bypass codes (metadata only; codes are never stored)",
    args: [{ name: "USER" }],
    async run(ctx) {
      const { services } = await ctx.runtime();
      const codes = await services.listBypassCodes(ctx.args[0]!);
      ctx.out.data(codes, () =>
        ctx.out.table<PublicBypassCode>(
          codes,
          [
            { header: "ID", value: (c) => c.id },
            {
              header: "USES LEFT",
              value: (c) => (c.usesLeft === null ? "unlimited" : `${c.usesLeft}/${c.maxUses}`),
            },
            { header: "EXPIRES", value: (c) => isoTime(c.expiresAt) ?? "never" },
            { header: "REVOKED", value: (c) => isoTime(c.revokedAt) },
            { header: "LAST USED", value: (c) => isoTime(c.lastUsedAt) },
            { header: "SOURCE", value: (c) => c.source },
            { header: "BY", value: (c) => c.createdBy },
            { header: "CREATED", value: (c) => isoTime(c.createdAt) },
            { header: "ID CHECK", value: (c) => c.idCheck },
          ],
          "(no bypass codes)",
        ),
      );
      return 0;
    },
  },
  {
    path: ["bypass", "revoke"],
    summary: "revoke one bypass code by its id",
    args: [{ name: "ID" }],
    async run(ctx) {
      const { services } = await ctx.runtime();
      await services.revokeBypassCode(ctx.actor, ctx.args[0]!);
      ctx.out.data({ revoked: ctx.args[0] }, () => ctx.out.line(`revoked bypass code ${ctx.args[0]}`));
      return 0;
    },
  },
  {
    path: ["bypass", "revoke-all"],
    summary: "revoke every bypass code of a user",
    args: [{ name: "USER" }],
    async run(ctx) {
      const { services } = await ctx.runtime();
      const revoked = await services.revokeAllBypassCodes(ctx.actor, ctx.args[0]!);
      ctx.out.data({ user: ctx.args[0], revoked }, () =>
        ctx.out.line(`revoked ${revoked} bypass code${revoked === 1 ? "" : "s"} of ${ctx.args[0]}`),
      );
      return 0;
    },
  },
];
