// The prompt's texts for enrolment (the choice, a key, a backup), the push page on a phone, and "Keep this page open".
import type { Catalogues, Language, MessagesOf } from "../../shared/i18n/catalogue.ts";

const en = {
  chooseEnrollLabel: "Choose what to set up",
  enrollApp: "Twofold Authenticator app (recommended)",
  enrollAppHint: "Approve logins on your phone; its passcodes work without signal.",
  enrollKey: "This device or a security key",
  enrollKeyHint: "Windows Hello, Touch ID, a fingerprint or a USB key.",
  enrollKeyTitle: "Set up this device or a security key",
  enrollKeyText:
    "Choose Continue: your browser asks you to confirm with your face, fingerprint, PIN or by touching your key.",
  enrollKeyAdded: (name: string) => `${name} is set up. Now log in with it.`,
  enrollBack: "Back",
  backupTitle: "Add a backup",
  backupKeyText:
    "If your phone is lost or flat, a backup lets you log in. Add this device or a security key now.",
  backupAppText:
    "If your key is lost or not with you, a backup lets you log in. Add Twofold Authenticator on your phone now.",
  backupAddApp: "Add Twofold Authenticator",
  skipBackup: "Skip backup",
  skipBackupWarning:
    "Without a backup, losing your only method means you can't log in until the IT service desk helps you.",
  notActivatedTitle: "Not activated yet",
  notActivated:
    "Twofold Authenticator isn't set up yet. Scan the code with your phone (or open the link on it), then choose Activated: continue. A code works once, for 10 minutes.",
  enrollOtherWay: "Choose another way to set up",
  /** Past the activation codes one login may show ("Show a new code" pressed again and again). */
  codeLimitTitle: "No more codes for this login",
  codeLimit: (app: string) =>
    `This login has shown as many codes as it may. Scanned one already? Choose Activated: continue. If not, log in to ${app} again to get a new code.`,
  /** Said when the page moves on by itself once the phone has activated the app. */
  enrollActivated: "Twofold Authenticator is activated. Continuing…",
  copyNumber: "Copy number",
  copied: "Copied",
  openAuthenticator: "Open Twofold Authenticator",
  keepOpenTitle: "This page will expire soon",
  keepOpenText: "For your security this page expires after 10 minutes without activity.",
  keepOpen: "Keep this page open",
  keptOpen: "Done: the page stays open for another 10 minutes.",
};

export type EnrollMessages = MessagesOf<typeof en>;

const zhHant: EnrollMessages = {
  chooseEnrollLabel: "選擇要設定的方法",
  enrollApp: "Twofold Authenticator App（建議）",
  enrollAppHint: "在手機上批准登入；App 驗證碼無須網絡亦可使用。",
  enrollKey: "此裝置或安全密鑰",
  enrollKeyHint: "Windows Hello、Touch ID、指紋或 USB 密鑰。",
  enrollKeyTitle: "設定此裝置或安全密鑰",
  enrollKeyText: "請按「繼續」：瀏覽器會要求你以面容、指紋、PIN 或觸碰密鑰確認。",
  enrollKeyAdded: (name) => `已設定 ${name}。請立即用它登入。`,
  enrollBack: "返回",
  backupTitle: "加入後備方法",
  backupKeyText: "手機遺失或沒電時，後備方法讓你仍可登入。請立即加入此裝置或安全密鑰。",
  backupAppText: "密鑰遺失或不在身邊時，後備方法讓你仍可登入。請立即在手機上加入 Twofold Authenticator。",
  backupAddApp: "加入 Twofold Authenticator",
  skipBackup: "略過後備方法",
  skipBackupWarning: "沒有後備方法的話，一旦失去唯一的方法，你須由資訊科技服務台協助才可登入。",
  notActivatedTitle: "尚未啟用",
  notActivated:
    "尚未設定 Twofold Authenticator。請用手機掃描代碼（或在手機上開啟連結），然後按「已啟用：繼續」。代碼只可使用一次，10 分鐘內有效。",
  enrollOtherWay: "選擇其他設定方法",
  codeLimitTitle: "此登入無法再顯示代碼",
  codeLimit: (app) =>
    `此登入已顯示了可顯示的最多代碼。已掃描代碼？請按「已啟用：繼續」。如未掃描，請重新登入 ${app} 以取得新代碼。`,
  enrollActivated: "已啟用 Twofold Authenticator，正在繼續⋯⋯",
  copyNumber: "複製號碼",
  copied: "已複製",
  openAuthenticator: "開啟 Twofold Authenticator",
  keepOpenTitle: "此頁面即將失效",
  keepOpenText: "為保障安全，此頁面閒置 10 分鐘後會失效。",
  keepOpen: "保持此頁面開啟",
  keptOpen: "完成：此頁面會再保持開啟 10 分鐘。",
};

export const ENROLL_MESSAGES: Catalogues<EnrollMessages> = Object.freeze({ en, "zh-Hant": zhHant });

export function enrollMessages(language: Language): EnrollMessages {
  return ENROLL_MESSAGES[language];
}
