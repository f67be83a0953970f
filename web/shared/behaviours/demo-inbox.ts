// The demo inbox, live: every 2 s the start page asks for the inbox and shows what arrived, newest first, and says so to
// screen readers, in the page's language (its words come from the section's data attributes). Without it the page still
// works: its Refresh link reloads.
import { fillPlaceholders } from "../i18n/catalogue.ts";

interface Entry {
  id: string;
  channel: "sms" | "email";
  to: string;
  subject: string | null;
  text: string;
  at: string;
  shownAt: string;
  lang: string;
}

interface Inbox {
  version: number;
  entries: Entry[];
}

const POLL_MS = 2000;

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  text?: string,
  attributes: Record<string, string> = {},
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  for (const [name, value] of Object.entries(attributes)) e.setAttribute(name, value);
  return e;
}

interface Words {
  textMessage: string;
  email: string;
  /** "{kind} to {to}, {time}" */
  entryLine: string;
}

/** One entry, as the server renders it (src/http/routes/demo-inbox.ts). */
function renderEntry(entry: Entry, words: Words): HTMLLIElement {
  const li = element("li", undefined, { class: "inbox-entry" });
  const line = element("p");
  const parts: Record<string, Node> = {
    kind: element("strong", entry.channel === "sms" ? words.textMessage : words.email),
    to: element("span", entry.to, { class: "recipient" }),
    time: element("time", entry.shownAt, { datetime: entry.at }),
  };
  line.append(
    ...words.entryLine.split(/(\{\w+\})/).map((piece) => {
      const name = /^\{(\w+)\}$/.exec(piece)?.[1];
      return (name !== undefined && parts[name]) || piece;
    }),
  );
  li.append(line);
  if (entry.subject) li.append(element("p", entry.subject, { class: "subject", lang: entry.lang }));
  li.append(element("pre", entry.text, { class: "message", lang: entry.lang }));
  return li;
}

function start(section: HTMLElement): void {
  const list = section.querySelector<HTMLOListElement>("[data-entries]");
  const empty = section.querySelector<HTMLElement>("[data-empty]");
  const live = section.querySelector<HTMLElement>("[data-live]");
  const source = section.dataset["source"];
  if (!list || !source) return;
  const data = section.dataset;
  const words: Words = {
    textMessage: data["textMessage"] ?? "Text message",
    email: data["email"] ?? "E-mail",
    entryLine: data["entryLine"] ?? "{kind} to {to}, {time}",
  };
  let version = Number(section.dataset["version"] ?? "0");
  let busy = false;

  const poll = async () => {
    if (busy) return;
    busy = true;
    try {
      const response = await fetch(source, { headers: { accept: "application/json" }, cache: "no-store" });
      if (!response.ok) return;
      const inbox = (await response.json()) as Inbox;
      if (inbox.version === version) return;
      const arrived = inbox.version - version;
      version = inbox.version;
      section.dataset["version"] = String(version);
      list.replaceChildren(...inbox.entries.map((e) => renderEntry(e, words)));
      if (empty) empty.hidden = inbox.entries.length > 0;
      const newest = inbox.entries[0];
      if (live && newest && arrived > 0)
        live.textContent = fillPlaceholders(
          (newest.channel === "sms" ? data["newTextMessage"] : data["newEmail"]) ?? "{to}",
          { to: newest.to },
        );
    } catch {
      // The server is restarting or gone: the next poll tries again; the Refresh link still works.
    } finally {
      busy = false;
    }
  };
  setInterval(() => void poll(), POLL_MS);
}

for (const section of document.querySelectorAll<HTMLElement>('[data-behaviour="demo-inbox"]')) start(section);
