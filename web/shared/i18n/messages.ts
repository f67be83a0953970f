// Texts every page shares (spec/ux.md § 1 and the P8 row): English defines them, Traditional Chinese (Hong Kong wording) must match.
import type { Catalogues, Language, MessagesOf } from "./catalogue.ts";

const en = {
  languageName: "English",
  languageSwitch: "Language",
  skipToContent: "Skip to content",
  needHelp: "Need help?",
  otherOptions: "Other options",
  sendAgain: "Send again",
  enterPasscode: "Enter a passcode",
  passcode: "Passcode",
  logIn: "Log in",
  /** spec/ux.md § 1: an error page's title starts with this. */
  errorTitle: (title: string) => `Error: ${title}`,
  reference: (id: string) => `Reference: ${id}`,
};

export type SharedMessages = MessagesOf<typeof en>;

const zhHant: SharedMessages = {
  languageName: "繁體中文",
  languageSwitch: "語言",
  skipToContent: "跳至主要內容",
  needHelp: "需要協助？",
  otherOptions: "其他選項",
  sendAgain: "重新傳送",
  enterPasscode: "輸入驗證碼",
  passcode: "驗證碼",
  logIn: "登入",
  errorTitle: (title) => `錯誤：${title}`,
  reference: (id) => `參考編號：${id}`,
};

export const SHARED_MESSAGES: Catalogues<SharedMessages> = Object.freeze({ en, "zh-Hant": zhHant });

export function sharedMessages(language: Language): SharedMessages {
  return SHARED_MESSAGES[language];
}
