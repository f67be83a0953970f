// The user import CSV: columns by header name, quoting, and every line at fault reported at once.
import assert from "node:assert/strict";
import { test } from "node:test";
import { TwofoldError } from "../core/errors.ts";
import { parseUserCSV, splitCSVLine } from "./user-csv.ts";

function issuesOf(text: string): string[] {
  try {
    parseUserCSV(text);
  } catch (error) {
    assert.ok(error instanceof TwofoldError);
    assert.equal(error.code, "ERR_IMPORT_INVALID");
    return error.issues.map((i) => `${i.path}: ${i.message}`);
  }
  assert.fail("expected the file to be refused");
}

test("columns are found by header name, in any order, with quoting and a BOM", () => {
  const rows = parseUserCSV(
    '\uFEFFphone,Name,username,email\r\n+886912345678,"Doe, Jane",jane,jane@example.edu\r\n\r\n# comment\n,,joe,\n',
  );
  assert.deepEqual(rows, [
    { line: 2, username: "jane", phone: "+886912345678", realName: "Doe, Jane", email: "jane@example.edu" },
    { line: 5, username: "joe", phone: null, realName: null, email: null },
  ]);
});

test("every broken line is reported with its number", () => {
  const issues = issuesOf('username,email\nann,a@x\n"bob,b@x\ncid\ndan,d@x,extra\neve,"e"x\n');
  assert.deepEqual(
    issues.map((i) => i.split(":")[0]),
    ["line 3", "line 4", "line 5", "line 6"],
  );
});

test("a bad header stops at the header, naming the problem", () => {
  assert.deepEqual(issuesOf("user,email,email\nann,a@x,b@x\n"), [
    'line 1: unknown column "user"; use username, email, name, phone, status',
    'line 1: column "email" appears twice',
    "line 1: the header needs a username column",
  ]);
  assert.match(issuesOf("")[0]!, /empty/);
  assert.match(issuesOf("username\n")[0]!, /no users/);
  assert.match(issuesOf("username,status\nann,root\n")[0]!, /line 2: status/);
});

test("splitCSVLine handles doubled quotes and spaces around quoted fields", () => {
  assert.deepEqual(splitCSVLine(' a , "b ""c"", d" ,e'), ["a", 'b "c", d', "e"]);
  assert.deepEqual(splitCSVLine(""), [""]);
  assert.equal(typeof splitCSVLine('"open'), "string");
});
