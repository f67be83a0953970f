// The authenticator's service worker: keeps the app shell so passcodes work offline, shows a notification for
// each Web Push login request (its context as plain text), and opens the app on that request when clicked.
/// <reference lib="webworker" />
import { fillPlaceholders, isLanguage, type Language } from "../shared/i18n/catalogue.ts";
import { MESSAGES, type MessageKey } from "./messages.ts";

declare const self: ServiceWorkerGlobalScope;

/** v2: the app became one bundle (app.js), so v1's module files are dropped with its cache. */
const SHELL_CACHE = "twofold-authenticator-shell-v2";
const SETTINGS_CACHE = "twofold-authenticator-settings";
const LANGUAGE_URL = "/authenticator/settings/language";
const APP_URL = "/authenticator/";
const SHELL = [
  APP_URL,
  "/authenticator/app.js",
  "/authenticator/app.css",
  "/authenticator/manifest.webmanifest",
  "/authenticator/icon.svg",
  "/authenticator/icon-192.png",
];

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(SHELL_CACHE)
      .then((cache) => cache.addAll(SHELL.map((url) => new Request(url, { cache: "no-cache" }))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys())
        if (name.startsWith("twofold-authenticator-shell-") && name !== SHELL_CACHE)
          await caches.delete(name);
      await self.clients.claim();
    })(),
  );
});

/**
 * The shell is served from the cache at once and refreshed from the network behind it (the next start gets
 * the update). Everything else, the device API above all, goes to the network untouched.
 */
self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  const key =
    request.mode === "navigate" && (url.pathname === "/authenticator" || url.pathname === APP_URL)
      ? APP_URL
      : SHELL.includes(url.pathname) && url.pathname !== APP_URL
        ? url.pathname
        : null;
  if (key === null) return;
  event.respondWith(fromCache(event, key));
});

async function fromCache(event: FetchEvent, key: string): Promise<Response> {
  const cache = await caches.open(SHELL_CACHE);
  const cached = await cache.match(key);
  const refresh = fetch(key, { cache: "no-cache" }).then(async (response) => {
    if (response.ok) await cache.put(key, response.clone());
    return response;
  });
  if (cached) {
    event.waitUntil(refresh.catch(() => undefined));
    return cached;
  }
  return refresh;
}

async function translator(): Promise<{
  language: Language;
  t: (key: MessageKey, params?: Record<string, string | number>) => string;
}> {
  let saved: string | null = null;
  try {
    const entry = await (await caches.open(SETTINGS_CACHE)).match(LANGUAGE_URL);
    if (entry) saved = await entry.text();
  } catch {
    // No saved choice.
  }
  let language: Language;
  if (isLanguage(saved)) language = saved;
  else {
    const tags = self.navigator.languages ?? [self.navigator.language ?? "en"];
    language = tags.some((tag) => /^zh(-hant|-tw|-hk|-mo|$)/i.test(tag)) ? "zh-Hant" : "en";
  }
  const table = MESSAGES[language];
  return { language, t: (key, params = {}) => fillPlaceholders(table[key], params) };
}

/** Payload: {"type":"push","push":{txid, application, time, ip, place, info, …}} (protocol "Web Push"). */
self.addEventListener("push", (event) => {
  event.waitUntil(
    (async () => {
      let push: {
        txid: string;
        application?: unknown;
        time?: unknown;
        ip?: unknown;
        place?: unknown;
        info?: unknown;
      } | null = null;
      try {
        const message = event.data?.json();
        if (message?.type === "push" && typeof message.push?.txid === "string") push = message.push;
      } catch {
        // Not JSON: still show something, as userVisibleOnly promises.
      }
      const { language, t } = await translator();
      const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
      for (const client of windows) client.postMessage({ type: "push" });
      if (!push) {
        await self.registration.showNotification(t("appTitle"), {
          body: t("notificationFallback"),
          lang: language,
        });
        return;
      }
      const pushTime = typeof push.time === "number" && Number.isFinite(push.time) ? push.time : null;
      const time =
        pushTime === null ? "" : new Intl.DateTimeFormat(language, { timeStyle: "short" }).format(pushTime);
      // Notifications show plain text only; the context goes in as it came.
      const body = [time, push.ip, push.place, push.info]
        .filter((part) => typeof part === "string" && part)
        .join("\n");
      await self.registration.showNotification(
        t("notificationTitle", { application: String(push.application ?? "") }),
        {
          body,
          tag: `push-${push.txid}`,
          data: { txid: push.txid },
          lang: language,
          icon: "/authenticator/icon-192.png",
          requireInteraction: true,
          ...(pushTime === null ? {} : { timestamp: pushTime }),
        } as NotificationOptions,
      );
    })(),
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const txid: unknown = event.notification.data?.txid;
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
      const open = windows.find((client) => new URL(client.url).pathname.startsWith("/authenticator"));
      if (open) {
        await open.focus();
        if (typeof txid === "string" && txid) open.postMessage({ type: "open-push", txid });
        return;
      }
      await self.clients.openWindow(
        typeof txid === "string" && txid ? `${APP_URL}#push=${encodeURIComponent(txid)}` : APP_URL,
      );
    })(),
  );
});
