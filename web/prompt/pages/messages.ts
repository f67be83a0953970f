// The login prompt's texts (spec/ux.md §2.3): English defines them, Traditional Chinese (Hong Kong wording) must match.
import type { Catalogues, Language, MessagesOf } from "../../shared/i18n/catalogue.ts";

const en = {
  /** P0 */
  loggingInTo: (app: string) => `Logging in to ${app}`,
  asUser: (user: string) => `as ${user}`,
  notYou: "Not you?",
  /** P1 */
  approveTitle: "Approve the request in Twofold Authenticator",
  /** P2 */
  enterNumberOn: (device: string) => `Open the notification on ${device} and enter this number:`,
  yourDevice: "your phone",
  numberLabel: (digits: string) => `Number to enter: ${digits}`,
  /** P3 */
  expiresIn: (mss: string) => `Request expires in ${mss}`,
  /** P4 */
  noNotification: "No notification? Open Twofold Authenticator; waiting requests show there.",
  continueAfterApproving: "Continue",
  continueHint: "After approving on your phone, choose Continue.",
  checking: "Waiting for your answer…",
  approved: "Approved. Logging you in…",
  /** P5 */
  pushExpired: "The request expired with no answer.",
  pushDenied: "Request denied in the app.",
  /** P6 */
  wrongNumber: "The numbers didn't match, so this request was cancelled.",
  /** P7 */
  fraudReported: "You reported this request. Push is paused for your account and IT has been told.",
  pushCancelled: "This request was replaced or cancelled.",
  pushLimit: (minutes: number) =>
    `Too many requests. Send another in ${minutes} ${minutes === 1 ? "minute" : "minutes"}.`,
  pushPending:
    "A request is already waiting in Twofold Authenticator. Answer it there, or wait a minute and send again.",
  pushUnavailable: "Push isn't available for your account right now. Choose another method.",
  pushRefusedTitle: "No request sent",
  pushEndedTitle: "The request ended",
  sendNewRequest: "Send a new request",
  /** Before the first push inside another site's frame (Web SDK v2). */
  pushStartText: (device: string) => `We'll send a request to ${device}: approve it there.`,
  sendPush: "Send me a push",
  /** Before a user the application lets in without a second factor goes on, inside another site's frame (Web SDK v2). */
  newUserTitle: "No second factor needed",
  newUserText: (app: string) => `You can log in to ${app} without a second factor for now.`,
  /** P8 */
  otherOptions: "Other options",
  sendAgain: "Send again",
  needHelp: "Need help?",
  enterPasscode: "Enter a passcode",
  passcode: "Passcode",
  logIn: "Log in",
  passcodeHint: "From Twofold Authenticator, a hardware token, a bypass code or a rescue code.",
  /** P11 */
  wrongPasscode: "That passcode didn't work. Check it and try again.",
  emptyPasscode: "Enter your passcode.",
  badPasscode: "Use digits (rescue codes: letters too).",
  /** P12 */
  locked: (minutes: number) =>
    `Too many incorrect attempts. Try again in ${minutes} ${minutes === 1 ? "minute" : "minutes"}, or contact the IT service desk.`,
  tooManyTries: (minutes: number) =>
    `Too many attempts from this network. Try again in ${minutes} ${minutes === 1 ? "minute" : "minutes"}.`,
  /** Other options entries */
  optionsTitle: "Choose a way to log in",
  pushEntry: "Twofold Authenticator push",
  pushEntryTo: (device: string) => `Send a request to ${device}`,
  passcodeEntry: "Enter a passcode",
  passcodeEntryHint: "App passcode (no signal needed), hardware token, bypass code or rescue code",
  lostPhone: "Lost your phone? Contact the IT service desk for a bypass code.",
  /** Failure pages */
  noMethods: (app: string) => `None of your methods work with ${app}.`,
  notEnrolled:
    "Set up two-factor authentication first: ask the IT service desk to add your phone or a token.",
  accountDisabled: "Your account can't sign in here.",
  notAllowedHere: (app: string) => `${app} doesn't allow this method for your account.`,
  cantLogInTitle: "You can't log in this way",
  /** P15 */
  pageExpired: (app: string) => `This login page has expired. Return to ${app} and log in again.`,
  pageExpiredTitle: "Login page expired",
  returnTo: (app: string) => `Return to ${app}`,
  badLinkTitle: "Link not valid",
  badLink: "This login link isn't valid. Go back to the application and log in again.",
  faultTitle: "Sign-in unavailable",
  fault: "Sign-in is unavailable; try again soon.",
  /** An activation QR code opened too often from one network (its image link, in a browser). */
  qrLimitTitle: "Too many requests",
  qrLimit: (minutes: number) =>
    `This code was opened too many times from your network. Try again in ${minutes} ${minutes === 1 ? "minute" : "minutes"}.`,
  tryAgain: "Try again",
  reference: (id: string) => `Reference: ${id}`,
  errorTitle: (title: string) => `Error: ${title}`,
  problem: "There is a problem",
  loggedInTitle: "Logged in",
  loggedIn: "Your login was approved. Continue to the application.",
  continueToApp: (app: string) => `Continue to ${app}`,
  language: "Language",
  help: "Contact the IT service desk.",
  helpPages: "Help with each way of logging in",
  /** T1–T3 */
  trustTitle: "Trust this browser?",
  trustText: (days: number, app: string) =>
    `For ${days} ${days === 1 ? "day" : "days"} you won't need a second step for ${app} in this browser. Don't trust shared computers.`,
  trustYes: "Yes, trust browser",
  enrollTitle: "Set up two-factor authentication",
  enrollText:
    "Your account has no second step yet. Set up Twofold Authenticator on your phone now: it takes a minute, and you continue to the application afterwards.",
  enrollStart: "Set up Twofold Authenticator",
  enrollScanTitle: "Scan this code with your phone",
  enrollScan:
    "Open the camera or Twofold Authenticator on your phone and scan this code. It works once, for 10 minutes.",
  enrollOnPhone: "On this phone? Open the activation link",
  enrollDone: "Activated: continue",
  enrollNewCode: "Show a new code",
  trustNo: "No, don't trust",
  logo: (org: string) => org,
};

export type PromptMessages = MessagesOf<typeof en>;

const zhHant: PromptMessages = {
  loggingInTo: (app) => `正在登入 ${app}`,
  asUser: (user) => `身份：${user}`,
  notYou: "不是你？",
  approveTitle: "請在 Twofold Authenticator 批准登入要求",
  enterNumberOn: (device) => `請打開 ${device} 上的通知，並輸入以下號碼：`,
  yourDevice: "你的手機",
  numberLabel: (digits) => `要輸入的號碼：${digits}`,
  expiresIn: (mss) => `要求將於 ${mss} 後失效`,
  noNotification: "收不到通知？請直接開啟 Twofold Authenticator，待處理的要求會於 App 內顯示。",
  continueAfterApproving: "繼續",
  continueHint: "在手機上批准後，請按「繼續」。",
  checking: "正在等候你的回應…",
  approved: "已批准，正在登入…",
  pushExpired: "要求已逾時，未有回應。",
  pushDenied: "要求已在 App 內被拒絕。",
  wrongNumber: "號碼不相符，此要求已取消。",
  fraudReported: "你已舉報此要求。你帳戶的推送通知已暫停，並已通知資訊科技部門。",
  pushCancelled: "此要求已被取代或取消。",
  pushLimit: (minutes) => `要求次數過多。請於 ${minutes} 分鐘後再傳送。`,
  pushPending: "Twofold Authenticator 內已有一個待處理的要求。請在 App 內回應，或等候一分鐘後再傳送。",
  pushUnavailable: "你的帳戶暫時無法使用推送通知，請選擇其他方法。",
  pushRefusedTitle: "未有傳送要求",
  pushEndedTitle: "要求已結束",
  sendNewRequest: "傳送新要求",
  pushStartText: (device) => `我們會傳送要求至 ${device}，請在該裝置上批准。`,
  sendPush: "傳送推送通知給我",
  newUserTitle: "毋須第二步驗證",
  newUserText: (app) => `你目前毋須第二步驗證即可登入 ${app}。`,
  otherOptions: "其他選項",
  sendAgain: "重新傳送",
  needHelp: "需要協助？",
  enterPasscode: "輸入驗證碼",
  passcode: "驗證碼",
  logIn: "登入",
  passcodeHint: "來自 Twofold Authenticator、硬件保安編碼器、略過碼或救援碼。",
  wrongPasscode: "驗證碼不正確，請檢查後再試。",
  emptyPasscode: "請輸入驗證碼。",
  badPasscode: "請輸入數字（救援碼可包含字母）。",
  locked: (minutes) => `錯誤次數過多。請於 ${minutes} 分鐘後再試，或聯絡資訊科技服務台。`,
  tooManyTries: (minutes) => `此網絡的嘗試次數過多。請於 ${minutes} 分鐘後再試。`,
  optionsTitle: "選擇登入方法",
  pushEntry: "Twofold Authenticator 推送通知",
  pushEntryTo: (device) => `傳送要求至 ${device}`,
  passcodeEntry: "輸入驗證碼",
  passcodeEntryHint: "App 驗證碼（無須網絡）、硬件保安編碼器、略過碼或救援碼",
  lostPhone: "遺失手機？請聯絡資訊科技服務台索取略過碼。",
  noMethods: (app) => `你的驗證方法均不適用於 ${app}。`,
  notEnrolled: "請先設定雙重驗證：請聯絡資訊科技服務台為你加入手機或保安編碼器。",
  accountDisabled: "你的帳戶無法在此登入。",
  notAllowedHere: (app) => `${app} 不容許你的帳戶使用此方法。`,
  cantLogInTitle: "無法以此方法登入",
  pageExpired: (app) => `此登入頁面已失效，請返回 ${app} 重新登入。`,
  pageExpiredTitle: "登入頁面已失效",
  returnTo: (app) => `返回 ${app}`,
  badLinkTitle: "連結無效",
  badLink: "此登入連結無效。請返回應用程式重新登入。",
  faultTitle: "暫時無法登入",
  fault: "暫時無法登入，請稍後再試。",
  qrLimitTitle: "要求次數過多",
  qrLimit: (minutes) => `你的網絡開啟此代碼的次數過多。請於 ${minutes} 分鐘後再試。`,
  tryAgain: "再試一次",
  reference: (id) => `參考編號：${id}`,
  errorTitle: (title) => `錯誤：${title}`,
  problem: "出現問題",
  loggedInTitle: "已登入",
  loggedIn: "你的登入已獲批准，請繼續前往應用程式。",
  continueToApp: (app) => `繼續前往 ${app}`,
  language: "語言",
  help: "請聯絡資訊科技服務台。",
  helpPages: "各種登入方法的說明",
  trustTitle: "信任此瀏覽器？",
  trustText: (days, app) => `${days} 日內於此瀏覽器登入 ${app} 無須第二步驗證。請勿信任共用電腦。`,
  trustYes: "是，信任此瀏覽器",
  enrollTitle: "設定雙重驗證",
  enrollText:
    "你的帳戶尚未設定第二步驗證。請立即在手機上設定 Twofold Authenticator：只需一分鐘，完成後即可繼續前往應用程式。",
  enrollStart: "設定 Twofold Authenticator",
  enrollScanTitle: "用手機掃描此代碼",
  enrollScan: "請在手機上開啟相機或 Twofold Authenticator 掃描此代碼。代碼只可使用一次，10 分鐘內有效。",
  enrollOnPhone: "正在使用這部手機？開啟啟用連結",
  enrollDone: "已啟用：繼續",
  enrollNewCode: "顯示新代碼",
  trustNo: "否，不信任",
  logo: (org) => org,
};

export const PROMPT_MESSAGES: Catalogues<PromptMessages> = Object.freeze({ en, "zh-Hant": zhHant });

export function promptMessages(language: Language): PromptMessages {
  return PROMPT_MESSAGES[language];
}
