// GeoIP country codes: what decides the prompt's roaming note (docs/sms.md), read from country.iso_code.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { openGeoIP } from "../../src/adapters/geoip/mmdb.ts";
import { buildMMDB } from "../support/mmdb-writer.ts";

const dir = mkdtempSync(join(tmpdir(), "twofold-geoip-country-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("an address's country is its ISO code; none for private addresses, unknown networks or a malformed code", () => {
  const file = join(dir, "country.mmdb");
  writeFileSync(
    file,
    buildMMDB(
      [
        { cidr: "1.160.0.0/12", record: { country: { iso_code: "TW", names: { en: "Taiwan" } } } },
        { cidr: "10.0.0.0/8", record: { country: { iso_code: "HK" } } },
        { cidr: "5.5.5.0/24", record: { country: { iso_code: "tw\u202e" } } },
        { cidr: "6.6.6.0/24", record: { city: { names: { en: "Somewhere" } } } },
      ],
      { ipVersion: 6, recordSize: 28, ipv4MappedAlias: true },
    ),
  );
  const geoip = openGeoIP(file);
  try {
    assert.equal(geoip.country("1.160.0.1"), "TW");
    assert.equal(geoip.country("::ffff:1.160.0.1"), "TW", "an IPv4 peer seen through a dual-stack socket");
    assert.equal(geoip.country("10.1.2.3"), null, "private addresses are never placed");
    assert.equal(geoip.country("5.5.5.5"), null, "not two capital letters");
    assert.equal(geoip.country("6.6.6.6"), null, "no country in the record");
    assert.equal(geoip.country("8.8.8.8"), null, "not in the database");
    assert.equal(geoip.country("not an address"), null);
  } finally {
    geoip.close();
  }
  assert.equal(geoip.country("1.160.0.1"), null, "closed: no more answers");
});
