// Request dates (duo-compat §1.3): the SDKs' RFC 5322 strings and duo_unix 2.1–2.2.3's localised strftime, as glibc writes them.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { monthOfAbbreviation, parseRequestDate } from "./signed-request.ts";

interface Vector {
  locale: string;
  /** The bytes strftime wrote. */
  hex: string;
  text: string;
  epoch: number;
}

const vectors = (
  JSON.parse(
    readFileSync(
      join(import.meta.dirname, "../../test/vectors/glibc-2.36-strftime-localised-dates.json"),
      "utf8",
    ),
  ) as { vectors: Vector[] }
).vectors;

/** What Node hands over for a header: one character per byte. */
const asReceived = (hex: string) => Buffer.from(hex, "hex").toString("latin1");

test("every glibc 2.36 localised date (32 UTF-8 locales and 2 ISO-8859-1 ones, 12 months each) parses to its instant", () => {
  const locales = new Set(vectors.map((v) => v.locale));
  assert.ok(locales.size >= 30, `${locales.size} locales`);
  assert.equal(vectors.length, locales.size * 12);
  const failed = vectors.filter((v) => parseRequestDate(asReceived(v.hex)) !== v.epoch * 1000);
  assert.deepEqual(
    failed.map((v) => `${v.locale}: ${v.text}`),
    [],
  );
  console.log(`parsed ${vectors.length} dates from ${locales.size} locales`);
});

test("the examples of the common locales: de_DE, fr_FR, zh_TW, ja_JP, ru_RU", () => {
  const at = Date.UTC(2026, 10, 18, 18, 51, 27);
  for (const text of [
    "Mi, 18 Nov 2026 13:51:27 -0500",
    "mer., 18 nov. 2026 13:51:27 -0500",
    "三, 18 11月 2026 13:51:27 -0500",
    "水, 18 11月 2026 13:51:27 -0500",
    "Ср, 18 ноя 2026 13:51:27 -0500",
    "Wed, 18 Nov 2026 13:51:27 -0500",
  ])
    assert.equal(parseRequestDate(Buffer.from(text, "utf8").toString("latin1")), at, text);
  // zh_TW and ja_JP pad a one-digit month with a space: `%d %b` gives two spaces.
  assert.equal(
    parseRequestDate(Buffer.from("四, 15  1月 2026 12:00:00 +0800", "utf8").toString("latin1")),
    Date.UTC(2026, 0, 15, 4, 0, 0),
  );
  // ISO-8859-1 locales write `Mär` as one byte.
  assert.equal(
    parseRequestDate(Buffer.from("So, 15 M\u00e4r 2026 12:00:00 +0100", "latin1").toString("latin1")),
    Date.UTC(2026, 2, 15, 11, 0, 0),
  );
});

test("a month that is unknown, or a number outside 1-12, is refused: it is never guessed", () => {
  for (const text of [
    "Mi, 18 Xyz 2026 13:51:27 -0500",
    "Mi, 18 13月 2026 13:51:27 -0500",
    "Mi, 18 0月 2026 13:51:27 -0500",
    "Mi, 18 11 2026 13:51:27 -0500",
  ])
    assert.equal(parseRequestDate(Buffer.from(text, "utf8").toString("latin1")), undefined, text);
});

test("localised dates need strftime's exact shape and a numeric offset", () => {
  for (const text of [
    // a zone name (AIX's %z writes one): not strftime's numeric %z
    "Mi, 18 Nov 2026 13:51:27 EST",
    "Mi, 18 Nov 2026 13:51:27 +2400",
    "Mi, 18 Nov 2026 13:51:27 +0060",
    "Mi, 18 Nov 2026 13:51:27 -05:00",
    "Mi, 8 Nov 2026 13:51:27 -0500",
    "18 Nov 2026 13:51:27 -0500x",
    "Mi, 31 Sep 2026 13:51:27 -0500",
    "Mi, 18 Nov 2026 24:00:00 -0500",
    "Mi 18 Nov 2026 13:51:27 -0500",
  ])
    assert.equal(parseRequestDate(text), undefined, text);
});

test("no abbreviation names two months", () => {
  for (let month = 0; month < 12; month++) {
    const names = vectors
      .filter((v) => new Date(v.epoch * 1000).getUTCMonth() === month)
      .map((v) => /^\S+, \d{2} +(\S+) /u.exec(v.text)![1]!);
    for (const name of names) assert.equal(monthOfAbbreviation(name), month, name);
  }
});
