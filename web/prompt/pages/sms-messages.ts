// The prompt's text-message passcode texts (spec/ux.md §2.1–2.3: P9, P10, P11, P13, P16): English defines them, Traditional Chinese (Hong Kong wording) must match.
import type { Catalogues, Language, MessagesOf } from "../../shared/i18n/catalogue.ts";

const en = {
  /** P16: the entry in Other options. */
  smsEntry: "Text message passcode",
  smsEntryTo: (phone: string) => `Send a code to ${phone}`,
  /** The first screen when SMS was the last method used here: nothing is sent until the user asks. */
  smsStartTitle: "Text message passcode",
  smsStartText: (phone: string, digits: number) => `We'll text a ${digits}-digit code to ${phone}.`,
  textMe: "Text me a passcode",
  /** P9 */
  sentTo: (phone: string, minutes: number) =>
    `Sent to ${phone}. The code works for ${minutes} ${minutes === 1 ? "minute" : "minutes"}.`,
  /** P10 */
  roaming: "Abroad? Texts may bring roaming charges; the app passcode works without signal.",
  smsPasscodeHint: "The code in the text message. Spaces are fine.",
  didntGetText: "Didn't get a text?",
  sendAgainIn: (seconds: number) =>
    `You can send another text in ${seconds} ${seconds === 1 ? "second" : "seconds"}.`,
  /** With P11 */
  codesLast: (minutes: number) => `Codes last ${minutes} ${minutes === 1 ? "minute" : "minutes"}.`,
  /** P13 */
  smsStopped: "Text messages are not available for your account.",
  smsQuota: (minutes: number) =>
    `Too many codes. Try again in ${minutes} ${minutes === 1 ? "minute" : "minutes"}.`,
  smsUnavailable: "We couldn't send a text just now.",
  smsRefusedTitle: "No text sent",
  smsRefusedNext: "Choose another way to log in under Other options.",
};

export type SMSPromptMessages = MessagesOf<typeof en>;

const zhHant: SMSPromptMessages = {
  smsEntry: "短訊驗證碼",
  smsEntryTo: (phone) => `傳送驗證碼至 ${phone}`,
  smsStartTitle: "短訊驗證碼",
  smsStartText: (phone, digits) => `我們會以短訊將 ${digits} 位數字驗證碼傳送至 ${phone}。`,
  textMe: "以短訊傳送驗證碼給我",
  sentTo: (phone, minutes) => `已傳送至 ${phone}，驗證碼 ${minutes} 分鐘內有效。`,
  roaming: "身處海外？接收短訊或會產生漫遊費用；App 驗證碼無須網絡亦可使用。",
  smsPasscodeHint: "短訊內的驗證碼，可包含空格。",
  didntGetText: "收不到短訊？",
  sendAgainIn: (seconds) => `你可於 ${seconds} 秒後再傳送短訊。`,
  codesLast: (minutes) => `驗證碼只在 ${minutes} 分鐘內有效。`,
  smsStopped: "你的帳戶無法使用短訊驗證碼。",
  smsQuota: (minutes) => `驗證碼要求次數過多。請於 ${minutes} 分鐘後再試。`,
  smsUnavailable: "暫時未能傳送短訊。",
  smsRefusedTitle: "未有傳送短訊",
  smsRefusedNext: "請在「其他選項」選擇其他登入方法。",
};

export const SMS_PROMPT_MESSAGES: Catalogues<SMSPromptMessages> = Object.freeze({ en, "zh-Hant": zhHant });

export function smsPromptMessages(language: Language): SMSPromptMessages {
  return SMS_PROMPT_MESSAGES[language];
}
