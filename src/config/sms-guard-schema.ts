// The settings of the SMS guard (`sms.guard.*`): send quotas, destination countries, the spend cap and the conversion breaker (E3).
import { Type as T } from "@sinclair/typebox";

/** At most `perWindow` sends in any `windowSeconds`, and `perDay` in any 24 hours. */
const Quota = (perWindow: number, windowSeconds: number, perDay: number, what: string) =>
  T.Object(
    {
      perWindow: T.Integer({
        default: perWindow,
        minimum: 0,
        maximum: 1_000_000,
        description: `Texts per window ${what}`,
      }),
      windowSeconds: T.Integer({ default: windowSeconds, minimum: 60, maximum: 86_400 }),
      perDay: T.Integer({
        default: perDay,
        minimum: 0,
        maximum: 10_000_000,
        description: `Texts in any 24 hours ${what}`,
      }),
    },
    { default: {} },
  );

const BreakerRule = (minSends: number, what: string) =>
  T.Object(
    {
      mode: T.Union([T.Literal("enforce"), T.Literal("record"), T.Literal("off")], {
        default: "enforce",
        description: `enforce: pause ${what} whose codes go untyped; record: only record when it would; off`,
      }),
      minSends: T.Integer({
        default: minSends,
        minimum: 1,
        maximum: 100_000,
        description: `Settled texts ${what} needs before the breaker judges it`,
      }),
    },
    { default: {} },
  );

export const SmsGuardSchema = T.Object(
  {
    countries: T.Array(T.String({ pattern: "^[A-Z]{2}$" }), {
      default: [],
      description:
        "ISO 3166 countries texts may go to; empty: organization.country alone (and no country when that is unset)",
    }),
    prefixDigits: T.Integer({
      default: 4,
      minimum: 1,
      maximum: 8,
      description: "A number's prefix: its country calling code and this many national digits",
    }),
    perUser: Quota(3, 600, 10, "to one user"),
    perNumber: Quota(3, 600, 10, "to one number"),
    perAddress: Quota(10, 3600, 30, "asked for from one address (IPv6 by /64)"),
    perApplication: Quota(200, 3600, 1000, "asked for through one application"),
    perCountry: Quota(500, 3600, 2000, "to one country"),
    perPrefix: Quota(10, 3600, 30, "to one number prefix"),
    spend: T.Object(
      {
        currency: T.String({ default: "USD", pattern: "^[A-Z]{3}$" }),
        dailyCap: T.Number({
          default: 50,
          minimum: 0,
          maximum: 1_000_000,
          description:
            "Most spent on texts in one day; then texts stop until the next day and operators are alerted",
        }),
        defaultPrice: T.Number({
          default: 0.1,
          minimum: 0,
          maximum: 100,
          description: "Price of one text to a country the price table does not name",
        }),
        prices: T.Record(T.String({ pattern: "^[A-Z]{2}$" }), T.Number({ minimum: 0, maximum: 100 }), {
          default: {},
          description: "Price of one text per destination country, e.g. { HK: 0.05, GB: 0.04 }",
        }),
        dayUtcOffsetMinutes: T.Integer({
          default: 0,
          minimum: -720,
          maximum: 840,
          description: "Where the spend day starts: minutes east of UTC (480 for Hong Kong)",
        }),
      },
      { default: {} },
    ),
    breaker: T.Object(
      {
        windowSeconds: T.Integer({
          default: 21_600,
          minimum: 600,
          maximum: 7 * 86_400,
          description: "The breaker judges texts sent over this long",
        }),
        settleSeconds: T.Integer({
          default: 300,
          minimum: 60,
          maximum: 86_400,
          description: "A text counts once this old (a code not typed by then never will be)",
        }),
        baselineDays: T.Integer({
          default: 7,
          minimum: 1,
          maximum: 60,
          description: "The baseline is the share of codes typed over this many days",
        }),
        baselineMinSends: T.Integer({ default: 20, minimum: 1, maximum: 1_000_000 }),
        defaultBaseline: T.Number({
          default: 0.8,
          minimum: 0.05,
          maximum: 1,
          description: "The baseline while fewer than baselineMinSends texts have settled",
        }),
        tripRatio: T.Number({
          default: 0.5,
          minimum: 0.01,
          maximum: 1,
          description:
            "A source trips when its share of typed codes falls below this fraction of the baseline",
        }),
        pauseSeconds: T.Integer({
          default: 21_600,
          minimum: 60,
          maximum: 30 * 86_400,
          description: "How long a tripped source stays paused",
        }),
        country: BreakerRule(50, "a country"),
        prefix: BreakerRule(10, "a number prefix"),
        address: BreakerRule(10, "an address"),
      },
      { default: {} },
    ),
    sendRetentionDays: T.Integer({
      default: 8,
      minimum: 2,
      maximum: 90,
      description:
        "Records of single texts (keyed hashes, no numbers) are deleted after this; at least baselineDays + 1",
    }),
    historyDays: T.Integer({
      default: 400,
      minimum: 7,
      maximum: 3650,
      description: "Daily totals (sent, spend, blocked) and ended stops are kept this long",
    }),
  },
  { default: {} },
);
