// Operator alerts by e-mail (SMS spend cap reached, SMS source paused, …): queued in the outbox for the configured operator addresses, at most once per alert kind and key per hour across nodes.
import { sha256Hex } from "../crypto/index.ts";
import type { Deps } from "../deps.ts";
import type { UserLanguage } from "../model.ts";
import type { OperatorAlert } from "../ports.ts";
import { formatTime, type RenderedMail } from "./email-notifications.ts";
import { enqueueMessage } from "./outbox.ts";

export interface AlertMailSettings {
  /** Operator addresses; empty: alerts are only logged. */
  to: readonly string[];
  language: UserLanguage;
}

const HOUR = 3_600_000;

/** What makes two alerts of a kind the same alert: the paused source, or the spend day. */
export function alertKey(alert: OperatorAlert): string {
  const d = alert.details;
  if (typeof d["scope"] === "string" && typeof d["subject"] === "string")
    return `${d["scope"]}:${d["subject"]}`;
  if (typeof d["day"] === "string") return d["day"];
  return "";
}

type AlertTemplate = (alert: OperatorAlert) => RenderedMail;

const str = (v: unknown) => (typeof v === "string" || typeof v === "number" ? String(v) : "");
const when = (v: unknown) => (typeof v === "number" ? formatTime(v) : "");

const SCOPES: Record<string, Record<UserLanguage, string>> = {
  country: { en: "country", "zh-Hant": "國家／地區" },
  prefix: { en: "number prefix", "zh-Hant": "號碼字首" },
  address: { en: "requesting address", "zh-Hant": "要求來源地址" },
};

const FOOTER: Record<UserLanguage, string> = {
  en: "This alert is sent at most once an hour for the same cause. The server log has the details (component: alerts).",
  "zh-Hant": "同一原因的警報每小時最多發送一次。詳情請查閱伺服器日誌（component: alerts）。",
};

/** Every alert kind in both languages; an unknown kind falls back to the alert's own line. */
export const ALERT_TEMPLATES: Record<OperatorAlert["kind"], Record<UserLanguage, AlertTemplate>> = {
  "sms.spend_cap_reached": {
    en: (a) => ({
      subject: "Twofold: text messages stopped for the day (spend cap reached)",
      text:
        `${a.message}.\n\nNo text messages are sent until the next spend day (${str(a.details["day"])} has ended) ` +
        "or until the cap (sms.guard.spend.dailyCap) is raised. Users are asked to choose another method.\n" +
        "See `twofold sms report` for the day's sends and refusals.",
    }),
    "zh-Hant": (a) => ({
      subject: "Twofold：今日已停止發送短訊（已達每日費用上限）",
      text:
        `${str(a.details["day"])} 的短訊費用已達每日上限 ${str(a.details["cap"])} ${str(a.details["currency"])}，今日不再發送短訊。\n\n` +
        "短訊將於下一個計費日恢復，或在提高上限（sms.guard.spend.dailyCap）後恢復；用戶會被提示改用其他登入方式。\n" +
        "請以 `twofold sms report` 查看當日的發送及拒絕紀錄。",
    }),
  },
  "sms.breaker_tripped": {
    en: (a) => ({
      subject: `Twofold: text messages paused for ${SCOPES[str(a.details["scope"])]?.en ?? "a source"} ${str(a.details["subject"])}`,
      text:
        `${a.message}.\n\nFew of the codes sent there were typed back: a sign of SMS pumping (toll fraud). ` +
        `The pause ends by itself at ${when(a.details["until"])}; \`twofold sms resume\` ends it sooner, ` +
        "and `twofold sms report` shows the numbers behind it.",
    }),
    "zh-Hant": (a) => ({
      subject: `Twofold：已暫停向${SCOPES[str(a.details["scope"])]?.["zh-Hant"] ?? "來源"} ${str(a.details["subject"])} 發送短訊`,
      text:
        `已暫停向${SCOPES[str(a.details["scope"])]?.["zh-Hant"] ?? "來源"} ${str(a.details["subject"])} 發送短訊，直至 ${when(a.details["until"])}：` +
        "發出的驗證碼很少被輸入，可能是短訊灌量（SMS pumping）詐騙。\n\n" +
        "暫停會自動結束；可用 `twofold sms resume` 提早結束，並以 `twofold sms report` 查看相關數字。",
    }),
  },
};

/** An alert as an e-mail to operators, in the configured language. */
export function renderAlertMail(alert: OperatorAlert, language: UserLanguage): RenderedMail {
  const template = ALERT_TEMPLATES[alert.kind]?.[language];
  const mail = template
    ? template(alert)
    : {
        subject:
          language === "en" ? `Twofold operator alert: ${alert.kind}` : `Twofold 營運警報：${alert.kind}`,
        text: alert.message,
      };
  return { subject: mail.subject, text: `${mail.text}\n\n${FOOTER[language]}\n` };
}

/**
 * Queue the e-mail for an alert to every operator address, unless the same alert (kind and key) was mailed this
 * hour: one conditional write (a mark) decides, so two nodes raising it mail it once. False when nothing was queued.
 */
export async function queueOperatorAlertMail(
  deps: Deps,
  settings: AlertMailSettings,
  alert: OperatorAlert,
): Promise<boolean> {
  const m = deps.messaging;
  if (!m?.mail || settings.to.length === 0) return false;
  const now = deps.clock.now();
  // The key may name a number prefix or an address: the mark keeps only its hash.
  const mark = `alert:${alert.kind}:${sha256Hex(alertKey(alert)).slice(0, 32)}:${Math.floor(now / HOUR)}`;
  const mail = renderAlertMail(alert, settings.language);
  return deps.store.transaction(async (store) => {
    if ((await store.countUnsentOutboxMessages("email")) >= m.outbox.maxUnsent) return false;
    if (!(await store.addMessageMark(mark, now))) return false;
    for (const to of settings.to)
      await enqueueMessage(
        { ...deps, store },
        {
          channel: "email",
          userId: null,
          kind: `alert:${alert.kind}`,
          destination: to,
          body: JSON.stringify(mail),
        },
      );
    return true;
  });
}
