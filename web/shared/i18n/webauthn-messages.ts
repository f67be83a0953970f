// The words around WebAuthn (spec/ux.md §2: entries, hints, "Before WebAuthn", "Add a key", P14), English and Traditional Chinese (Hong Kong).
import type { Catalogues, Language, MessagesOf } from "./catalogue.ts";

const en = {
  /** The login prompt's entries (ux §2.1), shown only where the browser supports them. */
  windowsHello: "Windows Hello",
  touchID: "Touch ID",
  thisDevice: "This device",
  securityKey: "Security key",
  phonePasskey: "Passkey on your phone",
  /** "Before WebAuthn": what the system window will ask. */
  hintWindowsHello: "Use face, fingerprint or PIN in the Windows window.",
  hintTouchID: "Touch the sensor; lid closed? Type your Mac password instead.",
  hintThisDevice: "Use this device's screen lock: face, fingerprint or PIN.",
  hintSecurityKey: "Insert your security key, then touch it when it blinks.",
  hintPhone: "Choose the phone option, scan the QR code with your phone, allow it there; Bluetooth on.",
  logInWith: (method: string) => `Log in with ${method}`,
  continue: "Continue",
  tryAgain: "Try again",
  /** While the browser's own window is open. */
  working: "Follow the instructions in the window your browser shows.",
  /** P14: every failure reads the same (cancelled, timed out, wrong key, refused by the server). */
  failed: "That didn't work: it was cancelled, timed out, or isn't set up for your account.",
  unsupported: "This browser can't use a security key or passkey here. Choose another option.",
  loggedIn: "Success. Logging you in...",
  /** "Add a key" after a phone login (ux §2.1), at most once a month. */
  addKeyTitle: "Add a key",
  addKeyOffer: "Skip the phone next time: add Windows Hello, Touch ID or a security key.",
  addNow: "Add now",
  notNow: "Not now",
  keyName: "Name for this key",
  keyAdded: (name: string) => `Added "${name}". Next time you can log in with it.`,
};

export type WebAuthnMessages = MessagesOf<typeof en>;

const zhHant: WebAuthnMessages = {
  windowsHello: "Windows Hello",
  touchID: "Touch ID",
  thisDevice: "此裝置",
  securityKey: "安全密鑰",
  phonePasskey: "手機上的通行密鑰",
  hintWindowsHello: "請在 Windows 視窗中使用臉孔、指紋或 PIN。",
  hintTouchID: "請輕觸感應器；如 Mac 已合上，請改為輸入 Mac 密碼。",
  hintThisDevice: "請使用此裝置的螢幕鎖：臉孔、指紋或 PIN。",
  hintSecurityKey: "請插入安全密鑰，並在燈號閃動時輕觸。",
  hintPhone: "請選擇手機選項，用手機掃描 QR 碼並在手機上允許；請開啟藍牙。",
  logInWith: (method) => `使用${method}登入`,
  continue: "繼續",
  tryAgain: "再試一次",
  working: "請按照瀏覽器視窗中的指示操作。",
  failed: "未能完成：操作已取消、逾時，或未有為你的帳戶設定。",
  unsupported: "此瀏覽器無法在此使用安全密鑰或通行密鑰。請選擇其他選項。",
  loggedIn: "成功，正在登入⋯⋯",
  addKeyTitle: "加入密鑰",
  addKeyOffer: "下次無須使用手機：加入 Windows Hello、Touch ID 或安全密鑰。",
  addNow: "立即加入",
  notNow: "暫時不要",
  keyName: "此密鑰的名稱",
  keyAdded: (name) => `已加入「${name}」。下次可用它登入。`,
};

export const WEBAUTHN_MESSAGES: Catalogues<WebAuthnMessages> = Object.freeze({ en, "zh-Hant": zhHant });

export function webAuthnMessages(language: Language): WebAuthnMessages {
  return WEBAUTHN_MESSAGES[language];
}
