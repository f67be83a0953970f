// Help pages the prompt links to, one per method and one for "no phone" (spec/ux.md §1: help in one place, WCAG 3.2.6).
// Compiled with our runtime whichever tsconfig the loader finds (the `twofold` command may start in any directory):
/** @jsxRuntime automatic */
/** @jsxImportSource #jsx */
import type { Language } from "../../shared/i18n/catalogue.ts";
import type { SafeHTML } from "../../shared/jsx/jsx-runtime.ts";
import { type PromptChrome, PromptPage } from "./frame.tsx";

export const HELP_TOPICS = [
  "push",
  "passcode",
  "no-phone",
  "windows-hello",
  "touch-id",
  "passkey-phone",
  "security-key",
] as const;
export type HelpTopic = (typeof HELP_TOPICS)[number];

/** A topic's title and paragraphs. */
export interface HelpText {
  title: string;
  paragraphs: readonly string[];
}

const en: Record<HelpTopic, HelpText> = {
  push: {
    title: "Approving a login with Twofold Authenticator",
    paragraphs: [
      "When you log in, the login page shows a number. Your phone gets a notification from Twofold Authenticator: open it, check the application, time and place, and type the number shown on the login page.",
      'No notification? Open Twofold Authenticator: waiting requests show there. If you did not try to log in, choose "This wasn\'t me": the request is refused and IT is told.',
    ],
  },
  passcode: {
    title: "Entering a passcode",
    paragraphs: [
      "Twofold Authenticator shows a 6-digit passcode that changes every 30 seconds; it works without signal. A hardware token shows one when you press its button.",
      "Bypass codes from the IT service desk and rescue codes you saved go in the same field. Spaces and dashes do not matter.",
    ],
  },
  "no-phone": {
    title: "Logging in without your phone",
    paragraphs: [
      "Use a rescue code you saved when you set up two-factor authentication, or a hardware token or security key if you have one.",
      "Otherwise contact the IT service desk with your ID card: they can give you a bypass code for the day and help you set up a new phone.",
    ],
  },
  "windows-hello": {
    title: "Windows Hello",
    paragraphs: [
      "Windows Hello is the face, fingerprint or PIN you use to unlock Windows. It can also confirm your logins: choose Windows Hello and use face, fingerprint or PIN in the Windows window.",
      "Add it once after logging in with your phone, when the login page offers it. It works only on the computer where you added it.",
    ],
  },
  "touch-id": {
    title: "Touch ID",
    paragraphs: [
      "Touch ID is the fingerprint sensor of a Mac. Choose Touch ID and touch the sensor; with the lid closed, type your Mac password instead.",
      "Add it once after logging in with your phone, when the login page offers it. It works only on the Mac where you added it.",
    ],
  },
  "passkey-phone": {
    title: "A passkey on your phone",
    paragraphs: [
      "Your phone can confirm a login on a computer: choose the phone option in the browser's window, scan the QR code it shows with your phone's camera, and allow it on the phone. Bluetooth must be on, on both.",
    ],
  },
  "security-key": {
    title: "Security keys",
    paragraphs: [
      "A security key is a small USB or NFC device. Choose Security key, insert it or hold it to the reader, and touch it when it blinks.",
      "The IT service desk can lend you one. Keep it on your key ring, apart from your phone.",
    ],
  },
};

const zhHant: Record<HelpTopic, HelpText> = {
  push: {
    title: "以 Twofold Authenticator 批准登入",
    paragraphs: [
      "登入時，登入頁面會顯示一個號碼。你的手機會收到 Twofold Authenticator 的通知：請打開通知，核對應用程式、時間及地點，然後輸入登入頁面上顯示的號碼。",
      "收不到通知？請直接開啟 Twofold Authenticator，待處理的要求會於 App 內顯示。如你沒有嘗試登入，請選擇「這不是我」：要求會被拒絕，並會通知資訊科技部門。",
    ],
  },
  passcode: {
    title: "輸入驗證碼",
    paragraphs: [
      "Twofold Authenticator 會顯示每 30 秒更新一次的 6 位數字驗證碼，無須網絡亦可使用。硬件保安編碼器按下按鈕後亦會顯示驗證碼。",
      "資訊科技服務台發出的略過碼及你預先保存的救援碼，亦輸入在同一欄位。空格及連字號不影響驗證。",
    ],
  },
  "no-phone": {
    title: "沒有手機時登入",
    paragraphs: [
      "請使用設定雙重驗證時保存的救援碼，或你擁有的硬件保安編碼器或安全密鑰。",
      "否則，請攜同身份證明文件聯絡資訊科技服務台：他們可為你發出當日有效的略過碼，並協助你設定新手機。",
    ],
  },
  "windows-hello": {
    title: "Windows Hello",
    paragraphs: [
      "Windows Hello 是你用來解鎖 Windows 的臉孔、指紋或 PIN，亦可用來確認登入：選擇 Windows Hello，然後在 Windows 視窗中使用臉孔、指紋或 PIN。",
      "以手機登入後，如登入頁面提供此選項，即可加入。它只適用於你加入它的電腦。",
    ],
  },
  "touch-id": {
    title: "Touch ID",
    paragraphs: [
      "Touch ID 是 Mac 的指紋感應器。選擇 Touch ID 並輕觸感應器；如已合上機蓋，請改為輸入你的 Mac 密碼。",
      "以手機登入後，如登入頁面提供此選項，即可加入。它只適用於你加入它的 Mac。",
    ],
  },
  "passkey-phone": {
    title: "手機上的通行密鑰",
    paragraphs: [
      "你的手機可以確認電腦上的登入：在瀏覽器視窗中選擇手機選項，用手機相機掃描顯示的 QR 碼，然後在手機上允許。兩部裝置都必須開啟藍牙。",
    ],
  },
  "security-key": {
    title: "安全密鑰",
    paragraphs: [
      "安全密鑰是一個小型 USB 或 NFC 裝置。選擇「安全密鑰」，插入或靠近讀取器，並在它閃動時輕觸。",
      "資訊科技服務台可借出安全密鑰。請把它放在鎖匙扣上，與手機分開存放。",
    ],
  },
};

export const HELP_TEXTS: Readonly<Record<Language, Record<HelpTopic, HelpText>>> = { en, "zh-Hant": zhHant };

export function HelpIndexPage({
  chrome,
  topics,
}: {
  chrome: PromptChrome;
  topics: ReadonlyArray<{ href: string; title: string }>;
}): SafeHTML {
  const { t } = chrome;
  return (
    <PromptPage chrome={chrome} title={t.needHelp}>
      <h1>{t.needHelp}</h1>
      <ul class="actions">
        {topics.map((topic) => (
          <li>
            <a href={topic.href} class="button">
              {topic.title}
            </a>
          </li>
        ))}
      </ul>
    </PromptPage>
  );
}

export function HelpPage({
  chrome,
  text,
  indexURL,
}: {
  chrome: PromptChrome;
  text: HelpText;
  indexURL: string;
}): SafeHTML {
  return (
    <PromptPage chrome={chrome} title={text.title}>
      <h1>{text.title}</h1>
      {text.paragraphs.map((p) => (
        <p>{p}</p>
      ))}
      <p>
        <a href={indexURL}>{chrome.t.needHelp}</a>
      </p>
    </PromptPage>
  );
}
