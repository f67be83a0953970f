// E-mail notifications (G3): what changed on a user's account, in their language (English or Traditional Chinese, Hong Kong wording), queued in the outbox with the event.
import type { Deps } from "../deps.ts";
import type { UserLanguage } from "../model.ts";
import { enqueueMessage } from "./outbox.ts";

export interface RenderedMail {
  subject: string;
  text: string;
}

type Payload = Record<string, unknown>;
type Template = (p: Payload, at: string) => RenderedMail;

/** The names of factors as the notifications say them. */
const FACTOR_NAMES: Record<string, Record<UserLanguage, string>> = {
  "Twofold Authenticator": { en: "the Twofold Authenticator", "zh-Hant": "Twofold Authenticator" },
  "authenticator app": { en: "an authenticator app", "zh-Hant": "驗證器 App" },
  "hardware token": { en: "a hardware token", "zh-Hant": "保安編碼器" },
  passkey: { en: "a passkey", "zh-Hant": "通行密鑰" },
  "security key": { en: "a security key", "zh-Hant": "安全密鑰" },
  "phone for text messages": { en: "a phone for text messages", "zh-Hant": "接收短訊的手機" },
};

function factorName(p: Payload, lang: UserLanguage): string {
  const raw = typeof p["factor"] === "string" ? p["factor"] : "";
  const name = FACTOR_NAMES[raw]?.[lang] ?? (raw || (lang === "en" ? "a sign-in method" : "登入方式"));
  const label =
    typeof p["name"] === "string" && p["name"]
      ? p["name"]
      : typeof p["serial"] === "string"
        ? p["serial"]
        : "";
  return label ? (lang === "en" ? `${name} ("${label}")` : `${name}（${label}）`) : name;
}

const NOT_YOU = {
  en: "If this wasn't you, contact the IT service desk at once: someone else may be able to sign in as you.",
  "zh-Hant": "如果這不是你本人的操作，請立即聯絡資訊科技服務台：其他人可能可以用你的身分登入。",
} as const;

const FOOTER = {
  en: "This message was sent automatically. It never contains a code or a password, and nobody from IT will ask you for one.",
  "zh-Hant": "此電郵由系統自動發出，不會包含任何驗證碼或密碼；資訊科技部門亦絕不會向你索取。",
} as const;

/**
 * Every notification in both languages: a type error when a kind lacks one (the catalogue is complete by
 * construction). No template puts a code, a secret or a full phone number in a message: a bypass code is
 * announced, never sent (the user got it from the service desk).
 */
export const MAIL_TEMPLATES: Record<string, Record<UserLanguage, Template>> = {
  "factor-added": {
    en: (p, at) => ({
      subject: "A sign-in method was added to your account",
      text: `${cap(factorName(p, "en"))} was added to your account at ${at}.\n\n${NOT_YOU.en}`,
    }),
    "zh-Hant": (p, at) => ({
      subject: "你的帳戶已加入登入方式",
      text: `你的帳戶已於 ${at} 加入${factorName(p, "zh-Hant")}。\n\n${NOT_YOU["zh-Hant"]}`,
    }),
  },
  "factor-removed": {
    en: (p, at) => ({
      subject: "A sign-in method was removed from your account",
      text: `${cap(factorName(p, "en"))} was removed from your account at ${at}.\n\n${NOT_YOU.en}`,
    }),
    "zh-Hant": (p, at) => ({
      subject: "你的帳戶已移除登入方式",
      text: `你的帳戶已於 ${at} 移除${factorName(p, "zh-Hant")}。\n\n${NOT_YOU["zh-Hant"]}`,
    }),
  },
  "bypass-code-issued": {
    en: (p, at) => ({
      subject: "A bypass code was issued for your account",
      text:
        `${count(p)} bypass code${count(p) === 1 ? " was" : "s were"} issued for your account at ${at}. ` +
        "The code itself is never sent by e-mail.\n\n" +
        "If you didn't ask the IT service desk for one, contact them at once.",
    }),
    "zh-Hant": (p, at) => ({
      subject: "已為你的帳戶發出臨時通行碼",
      text:
        `已於 ${at} 為你的帳戶發出 ${count(p)} 個臨時通行碼。通行碼本身絕不會以電郵發送。\n\n` +
        "如果你沒有向資訊科技服務台申請，請立即聯絡他們。",
    }),
  },
  "push-fraud-reported": {
    en: (p, at) => ({
      subject: "You reported a sign-in request",
      text:
        `You reported a sign-in request${app(p, "en")} at ${at}. Push is paused for your account and IT has been told.\n\n` +
        "The service desk can turn push back on once your account is checked.",
    }),
    "zh-Hant": (p, at) => ({
      subject: "你已舉報一項登入要求",
      text:
        `你已於 ${at} 舉報一項登入要求${app(p, "zh-Hant")}。你帳戶的推送通知已暫停，並已通知資訊科技部門。\n\n` +
        "核實帳戶後，服務台可為你重新啟用推送通知。",
    }),
  },
  "sms-stopped": {
    en: (_p, at) => ({
      subject: "Text messages are stopped for your account",
      text:
        `From ${at}, text-message passcodes are not available for your account. ` +
        "Use the app passcode, a push or a security key instead.\n\nContact the IT service desk to ask why.",
    }),
    "zh-Hant": (_p, at) => ({
      subject: "你的帳戶已停用短訊驗證碼",
      text:
        `由 ${at} 起，你的帳戶無法使用短訊驗證碼。請改用 App 驗證碼、推送通知或安全密鑰。\n\n` +
        "如有查詢，請聯絡資訊科技服務台。",
    }),
  },
  "token-loan-due": {
    en: (p) => ({
      subject: "Please return your hardware token",
      text:
        `The hardware token${serial(p)} you borrowed from the IT office is due back${due(p, "en")}. ` +
        "Please return it to the IT service desk.",
    }),
    "zh-Hant": (p) => ({
      subject: "請歸還保安編碼器",
      text: `你向資訊科技部門借用的保安編碼器${serial(p)}應於${due(p, "zh-Hant")}歸還，請交回資訊科技服務台。`,
    }),
  },
  "token-loan-overdue": {
    en: (p) => ({
      subject: "Your hardware token is overdue",
      text:
        `The hardware token${serial(p)} you borrowed from the IT office was due back${due(p, "en")} and has not been returned. ` +
        "Please bring it to the IT service desk, or ask them for more time.",
    }),
    "zh-Hant": (p) => ({
      subject: "你借用的保安編碼器已逾期",
      text: `你向資訊科技部門借用的保安編碼器${serial(p)}應於${due(p, "zh-Hant")}歸還，但尚未交回。請交回資訊科技服務台，或向他們申請延期。`,
    }),
  },
  "rescue-codes-generated": {
    en: (_p, at) => ({
      subject: "New rescue codes were made for your account",
      text: `New rescue codes were made for your account at ${at}; the old ones no longer work.\n\n${NOT_YOU.en}`,
    }),
    "zh-Hant": (_p, at) => ({
      subject: "你的帳戶已產生新的救援碼",
      text: `你的帳戶已於 ${at} 產生新的救援碼，舊的救援碼已失效。\n\n${NOT_YOU["zh-Hant"]}`,
    }),
  },
  "rescue-code-used": {
    en: (p, at) => ({
      subject: "A rescue code was used to sign in",
      text: `A rescue code was used to sign in to your account at ${at}; ${count(p, "remaining")} left.\n\n${NOT_YOU.en}`,
    }),
    "zh-Hant": (p, at) => ({
      subject: "有人使用救援碼登入",
      text: `你的帳戶已於 ${at} 使用救援碼登入，尚餘 ${count(p, "remaining")} 個。\n\n${NOT_YOU["zh-Hant"]}`,
    }),
  },
  "locked-out": {
    en: (_p, at) => ({
      subject: "Too many incorrect attempts on your account",
      text:
        `At ${at} one of your sign-in methods was locked after too many incorrect codes. Your other methods still work.\n\n` +
        NOT_YOU.en,
    }),
    "zh-Hant": (_p, at) => ({
      subject: "你的帳戶錯誤嘗試次數過多",
      text: `你的其中一種登入方式於 ${at} 因錯誤次數過多而被鎖定，其他登入方式仍可使用。\n\n${NOT_YOU["zh-Hant"]}`,
    }),
  },
};

function cap(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
function count(p: Payload, key = "count"): number {
  return typeof p[key] === "number" ? (p[key] as number) : 1;
}
function app(p: Payload, lang: UserLanguage): string {
  const name = typeof p["application"] === "string" ? p["application"] : "";
  return name ? (lang === "en" ? ` for ${name}` : `（${name}）`) : "";
}
function serial(p: Payload): string {
  return typeof p["serial"] === "string" && p["serial"] ? ` ${p["serial"]}` : "";
}
function due(p: Payload, lang: UserLanguage): string {
  const at = typeof p["dueAt"] === "number" ? formatTime(p["dueAt"] as number) : "";
  return at ? (lang === "en" ? ` on ${at}` : ` ${at} `) : lang === "en" ? "" : "期限前";
}

/** `2026-11-22 12:00 UTC`: unambiguous in both languages. */
export function formatTime(ms: number): string {
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

/** A notification rendered for one user, or undefined when there is no template for the kind. */
export function renderNotificationMail(
  kind: string,
  payload: Payload,
  language: UserLanguage,
  at: number,
): RenderedMail | undefined {
  const template = MAIL_TEMPLATES[kind]?.[language];
  if (!template) return undefined;
  const { subject, text } = template(payload, formatTime(at));
  return { subject, text: `${text}\n\n${FOOTER[language]}\n` };
}

/**
 * Queue the e-mail for a notification, in the caller's transaction (it commits with the event): only when mail is
 * configured, the user has an address and the kind has a template. The outbox sends it; a crash after the event
 * commits loses nothing (G3).
 */
export async function queueNotificationMail(
  deps: Deps,
  userId: string,
  kind: string,
  payload: Payload,
): Promise<boolean> {
  const m = deps.messaging;
  if (!m?.mail) return false;
  const user = await deps.store.getUser(userId);
  if (!user?.email) return false;
  const language = user.language ?? m.mailLanguage;
  const mail = renderNotificationMail(kind, payload, language, deps.clock.now());
  if (!mail) return false;
  // Bounded: a full outbox drops the e-mail (the notification row stays) rather than growing without end.
  if ((await deps.store.countUnsentOutboxMessages("email")) >= m.outbox.maxUnsent) return false;
  await enqueueMessage(deps, {
    channel: "email",
    userId,
    kind: `email:${kind}`,
    destination: user.email,
    body: JSON.stringify(mail),
  });
  return true;
}
