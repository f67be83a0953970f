// `twofold sms …`: the service desk's stop switch for texts to a user or number, ending a breaker's pause, and the operator report.
import type { PublicSmsStop, SmsReport, SmsStopTarget } from "../../core/use-cases/sms-operator.ts";
import { type Command, type CommandContext, UsageError } from "../command.ts";
import { isoTime } from "../output.ts";

const TARGETS = ["user", "number", "country", "prefix", "address", "id"] as const;

/** The one target named by --user, --number, … (exactly one of those allowed). */
function targetOf(
  ctx: CommandContext,
  allowed: readonly (typeof TARGETS)[number][],
): SmsStopTarget | { id: string } {
  const given = allowed.filter((name) => ctx.string(name) !== undefined);
  if (given.length !== 1)
    throw new UsageError(`name exactly one of ${allowed.map((a) => `--${a}`).join(", ")}`);
  const name = given[0]!;
  return { [name]: ctx.string(name)! } as SmsStopTarget | { id: string };
}

function describeStop(s: PublicSmsStop): string {
  const who = s.username ? `${s.subject} (${s.username})` : s.subject;
  const until = s.until === null ? "until resumed" : `until ${isoTime(s.until)}`;
  return `${s.scope} ${who}: ${s.reason} [${s.id}, ${until}]`;
}

function money(value: number): string {
  return value.toFixed(2);
}

function printReport(ctx: CommandContext, r: SmsReport): void {
  const out = ctx.out;
  out.line(
    `Today (${r.today.day}): ${r.today.sent} text${r.today.sent === 1 ? "" : "s"} sent, ${money(r.today.spent)} of the ${money(r.dailyCap)} ${r.currency} daily cap${r.today.capReached ? " — CAP REACHED, texts stopped until tomorrow" : ""}`,
  );
  out.line(
    `Destination countries: ${r.countries.length > 0 ? r.countries.join(", ") : "none (set organization.country)"}`,
  );
  out.line();
  out.table(
    r.days,
    [
      { header: "DAY", value: (d) => d.day },
      { header: "SENT", value: (d) => d.sent },
      { header: "TYPED", value: (d) => d.typed },
      { header: "FAILED", value: (d) => d.failed },
      { header: `SPEND (${r.currency})`, value: (d) => money(d.spent) },
      {
        header: "BLOCKED",
        value: (d) =>
          Object.entries(d.blocked)
            .map(([reason, n]) => `${reason} ${n}`)
            .join(", ") || "-",
      },
    ],
    "(no texts in this period)",
  );
  out.line();
  const reasons = Object.entries(r.blockedByReason).sort((a, b) => b[1] - a[1]);
  out.line(
    `Blocked by reason: ${reasons.length > 0 ? reasons.map(([k, n]) => `${k} ${n}`).join(", ") : "none"}`,
  );
  out.line();
  out.line(`Stopped (${r.stops.length}):`);
  for (const s of r.stops) out.line(`  ${describeStop(s)}`);
  const m = r.breaker.modes;
  out.line();
  out.line(`Breaker: country ${m.country}, prefix ${m.prefix}, address ${m.address}`);
  for (const p of r.breaker.paused) out.line(`  ${p.active ? "PAUSED" : "was paused"} ${describeStop(p)}`);
  for (const p of r.breaker.recorded) out.line(`  record-only, would have paused ${describeStop(p)}`);
  if (r.breaker.paused.length + r.breaker.recorded.length === 0) out.line("  nothing tripped in this period");
}

export const smsCommands: Command[] = [
  {
    path: ["sms", "stop"],
    summary: "stop text messages to a user or a number (the user is told texts are not available)",
    synopsis: "(--user USER | --number E164) --reason TEXT",
    options: {
      user: { type: "string", value: "USER", description: "username, alias or user id" },
      number: { type: "string", value: "E164", description: "phone number, e.g. +85291234567" },
      reason: {
        type: "string",
        value: "TEXT",
        description: "why (kept in the audit log and shown in the report)",
      },
    },
    async run(ctx) {
      const target = targetOf(ctx, ["user", "number"]) as { user: string } | { number: string };
      const reason = ctx.string("reason");
      if (!reason) throw new UsageError("--reason is required: say why texts are stopped");
      const { services } = await ctx.runtime();
      const stop = await services.stopSms(ctx.actor, target, reason);
      ctx.out.data(stop, () => ctx.out.line(`stopped texts to ${describeStop(stop)}`));
      return 0;
    },
  },
  {
    path: ["sms", "resume"],
    summary: "resume texts to a user or number, or end a breaker's pause of a country, prefix or address",
    synopsis: "--user USER | --number E164 | --country CC | --prefix +NNN | --address IP | --id ID",
    options: {
      user: { type: "string", value: "USER", description: "username, alias or user id" },
      number: { type: "string", value: "E164", description: "phone number" },
      country: { type: "string", value: "CC", description: "a country the breaker paused (HK)" },
      prefix: {
        type: "string",
        value: "+NNN",
        description: "a number prefix the breaker paused, as the report shows it",
      },
      address: { type: "string", value: "IP", description: "an address the breaker paused" },
      id: { type: "string", value: "ID", description: "a stop's id from the report" },
    },
    async run(ctx) {
      const target = targetOf(ctx, TARGETS);
      const { services } = await ctx.runtime();
      const ended = await services.resumeSms(ctx.actor, target);
      ctx.out.data(ended, () => {
        for (const s of ended) ctx.out.line(`resumed ${describeStop(s)}`);
      });
      return 0;
    },
  },
  {
    path: ["sms", "report"],
    summary: "texts sent per day, spend against the cap, refusals by reason, stops and the breaker",
    options: {
      days: {
        type: "string",
        value: "N",
        description: "days to cover, today included (default 7, at most 400)",
      },
    },
    async run(ctx) {
      const days = ctx.integer("days", 1, 400);
      const { services } = await ctx.runtime();
      const report = await services.readSmsReport(days === undefined ? {} : { days });
      ctx.out.data(report, () => printReport(ctx, report));
      return 0;
    },
  },
];
