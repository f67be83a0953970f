// `twofold audit tail` (administrative changes, optionally followed) and `twofold auth log` (authentication attempts).
import type { AuditEvent, AuthLogEntry } from "../../core/model.ts";
import type { Services } from "../../core/services.ts";
import type { Command, CommandContext } from "../command.ts";
import { type Column, isoTime, toJSONValue } from "../output.ts";

/** An audit event with the name of what it is about (a user's username, an application's name), when it still exists. */
type NamedAuditEvent = AuditEvent & { targetName: string | null };

const AUDIT_COLUMNS: Column<NamedAuditEvent>[] = [
  { header: "ID", value: (e) => e.id },
  { header: "TIME", value: (e) => isoTime(e.at) },
  { header: "ACTOR", value: (e) => e.actor },
  { header: "ACTION", value: (e) => e.action },
  {
    header: "TARGET",
    value: (e) =>
      `${e.targetId ? `${e.targetType}:${e.targetId}` : e.targetType}${e.targetName ? ` (${e.targetName})` : ""}`,
  },
  { header: "IP", value: (e) => e.sourceIp },
];

/** Looks up users' and applications' names by id, each id once per command. */
function createNamer(services: Services): (type: string | null, id: string | null) => Promise<string | null> {
  const known = new Map<string, Promise<string | null>>();
  return (type, id) => {
    if (!id || (type !== "user" && type !== "application")) return Promise.resolve(null);
    const key = `${type}:${id}`;
    let name = known.get(key);
    if (!name) {
      name =
        type === "user"
          ? services.getUser(id).then((u) => u?.username ?? null)
          : services.getApplication(id).then((a) => a?.name ?? null);
      known.set(key, name);
    }
    return name;
  };
}

async function withNames(
  events: AuditEvent[],
  name: ReturnType<typeof createNamer>,
): Promise<NamedAuditEvent[]> {
  return Promise.all(events.map(async (e) => ({ ...e, targetName: await name(e.targetType, e.targetId) })));
}

/** The newest `limit` audit events, oldest first. */
async function latestAuditEvents(services: Services, limit: number): Promise<AuditEvent[]> {
  return (await services.listAudit({ limit, order: "desc" })).reverse();
}

function formatAuditLine(e: NamedAuditEvent): string {
  return AUDIT_COLUMNS.map((c) => String(c.value(e) ?? "-")).join("  ");
}

/** Wait `ms`, or less when `stop` fires. */
function sleep(ms: number, stop: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    stop.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

async function follow(
  ctx: CommandContext,
  services: Services,
  name: ReturnType<typeof createNamer>,
  lastId: number,
): Promise<void> {
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    let last = lastId;
    while (!stop.signal.aborted) {
      await sleep(1000, stop.signal);
      if (stop.signal.aborted) break;
      for (const e of await withNames(await services.listAudit({ afterId: last, limit: 1000 }), name)) {
        if (ctx.json) ctx.stdout.write(`${JSON.stringify(toJSONValue(e))}\n`);
        else ctx.out.line(formatAuditLine(e));
        last = e.id;
      }
    }
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

export const auditCommands: Command[] = [
  {
    path: ["audit", "tail"],
    summary: "show the newest audit events (who changed what)",
    options: {
      limit: { type: "string", value: "N", description: "how many events (default 20)" },
      follow: { type: "boolean", short: "f", description: "keep printing new events until interrupted" },
    },
    details:
      "TARGET names users and applications beside their ids (targetName in JSON) while they exist.\n" +
      "With --follow and --json, prints one JSON object per line.",
    async run(ctx) {
      const limit = ctx.integer("limit", 1, 100_000) ?? 20;
      const { services } = await ctx.runtime();
      const name = createNamer(services);
      const events = await withNames(await latestAuditEvents(services, limit), name);
      if (ctx.flag("follow") && ctx.json) {
        for (const e of events) ctx.stdout.write(`${JSON.stringify(toJSONValue(e))}\n`);
      } else {
        ctx.out.data(events, () => ctx.out.table(events, AUDIT_COLUMNS, "(no audit events)"));
      }
      if (ctx.flag("follow")) await follow(ctx, services, name, events.at(-1)?.id ?? 0);
      return 0;
    },
  },
  {
    path: ["auth", "log"],
    summary: "show the newest authentication attempts",
    options: { limit: { type: "string", value: "N", description: "how many entries (default 20)" } },
    async run(ctx) {
      const limit = ctx.integer("limit", 1, 100_000) ?? 20;
      const { services, clock } = await ctx.runtime();
      const { entries } = await services.listAuthLog({
        minTime: 0,
        maxTime: clock.now(),
        limit,
        order: "desc",
      });
      const name = createNamer(services);
      const list = await Promise.all(
        entries
          .reverse()
          .map(async (e) => ({ ...e, applicationName: await name("application", e.applicationId) })),
      );
      ctx.out.data(list, () =>
        ctx.out.table<AuthLogEntry & { applicationName: string | null }>(
          list,
          [
            { header: "TIME", value: (e) => isoTime(e.at) },
            { header: "USER", value: (e) => e.username },
            { header: "RESULT", value: (e) => e.result },
            { header: "FACTOR", value: (e) => e.factor },
            { header: "REASON", value: (e) => e.reason },
            {
              header: "APPLICATION",
              value: (e) =>
                e.applicationId && e.applicationName
                  ? `${e.applicationId} (${e.applicationName})`
                  : e.applicationId,
            },
            { header: "IP", value: (e) => e.ip },
            { header: "TXID", value: (e) => e.txid },
          ],
          "(no authentication attempts)",
        ),
      );
      return 0;
    },
  },
];
