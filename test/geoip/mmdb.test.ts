// GeoIP adapter: our MaxMind DB reader against libmaxminddb's mmdblookup on written files, and on corrupt and hostile ones.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import fc from "fast-check";
import {
  isNonGlobalAddress,
  MMDBMarker,
  type MMDBValue,
  openGeoIP,
  openMMDB,
  parseIPAddress,
} from "../../src/adapters/geoip/mmdb.ts";
import { isTwofoldError } from "../../src/core/errors.ts";
import {
  buildMMDB,
  double,
  float,
  int32,
  type MMDBNetwork,
  type MMDBWriterOptions,
  pointer,
  raw,
  uint16,
  uint64,
  uint128,
  type WriterValue,
} from "../support/mmdb-writer.ts";

const dir = mkdtempSync(join(tmpdir(), "twofold-geoip-"));
after(() => rmSync(dir, { recursive: true, force: true }));

let fileNumber = 0;
function writeDB(bytes: Uint8Array, name = `db-${++fileNumber}.mmdb`): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

/** Deterministic addresses and networks: a failure names its seed and replays. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// --- Records in the GeoIP2 City layout (as in GeoLite2-City and DB-IP City Lite). ---

let geonameId = 1_000_000;
const names = (en: string | null, others: Record<string, string> = {}): WriterValue => ({
  ...(en === null ? {} : { en }),
  ...others,
});
const europe = {
  code: "EU",
  geoname_id: 6255148,
  names: names("Europe", { de: "Europa", ja: "ヨーロッパ" }),
};
const asia = { code: "AS", geoname_id: 6255147, names: names("Asia", { de: "Asien", ja: "アジア" }) };
const southAmerica = { code: "SA", geoname_id: 6255150, names: names("South America", { de: "Südamerika" }) };
function country(iso: string, en: string, others: Record<string, string> = {}): WriterValue {
  return { geoname_id: ++geonameId, iso_code: iso, names: names(en, others) };
}
function cityRecord(
  city: string | null,
  continent: WriterValue,
  where: WriterValue,
  extra: Record<string, WriterValue> = {},
): WriterValue {
  return {
    ...(city === null ? {} : { city: { geoname_id: ++geonameId, names: names(city, { de: city }) } }),
    continent,
    country: where,
    location: {
      accuracy_radius: uint16(50),
      latitude: double(25.0478),
      longitude: double(121.5319),
      time_zone: "Asia/Taipei",
    },
    registered_country: where,
    subdivisions: [{ geoname_id: ++geonameId, iso_code: "X", names: names("Some Province") }],
    ...extra,
  };
}

const taiwan = country("TW", "Taiwan", { "zh-CN": "台湾", ja: "台湾" });
const PLACES = {
  taipei: cityRecord("Taipei", asia, taiwan, { city: { names: names("Taipei", { "zh-CN": "台北市" }) } }),
  taichung: cityRecord("Taichung", asia, taiwan),
  taiwanOnly: { continent: asia, country: taiwan, registered_country: taiwan },
  london: cityRecord("London", europe, country("GB", "United Kingdom", { de: "Vereinigtes Königreich" })),
  linkoping: cityRecord("Linköping", europe, country("SE", "Sweden", { de: "Schweden" })),
  saoPaulo: cityRecord("São Paulo", southAmerica, country("BR", "Brazil", { de: "Brasilien" })),
  zurich: cityRecord("Zürich", europe, country("CH", "Switzerland", { de: "Schweiz" })),
  krakow: cityRecord("Kraków", europe, country("PL", "Poland", { de: "Polen" })),
  bhutan: { continent: asia, country: country("BT", "Bhutan") },
  /** A city named only in Japanese: the place is the country alone. */
  sapporo: {
    city: { geoname_id: 2128295, names: names(null, { ja: "札幌市" }) },
    country: country("JP", "Japan", { ja: "日本" }),
  },
  continentOnly: { continent: europe },
  registeredOnly: { registered_country: country("US", "United States") },
  /** Every data type of spec §Output Data Section that a record can hold. */
  allTypes: {
    string: "a string",
    empty_string: "",
    double: double(-1234.5678),
    float: float(1.25),
    bytes: new Uint8Array([0, 1, 0xfe, 0xff]),
    uint16: uint16(65535),
    uint32: 4294967295,
    uint32_zero: 0,
    int32: int32(-2147483648),
    int32_positive: int32(1234567),
    uint64: uint64(18446744073709551615n),
    uint128: uint128((1n << 128n) - 1n),
    uint128_small: uint128(258n),
    map: { nested: { deeper: [1, 2, { deepest: true }] } },
    empty_map: {},
    array: ["x", false, 3, double(0.5)],
    empty_array: [],
    boolean_true: true,
    boolean_false: false,
    long_string: "long ".repeat(100),
    longer_string: "longer ".repeat(10_000),
  },
} satisfies Record<string, WriterValue>;

/** The places the fixed networks below must give. */
const FIXED: ReadonlyArray<readonly [string, WriterValue, ReadonlyArray<readonly [string, string | null]>]> =
  [
    [
      "1.160.0.0/12",
      PLACES.taipei,
      [
        ["1.160.0.1", "Taipei, Taiwan"],
        ["1.175.255.254", "Taipei, Taiwan"],
      ],
    ],
    ["1.164.0.0/16", PLACES.taichung, [["1.164.3.4", "Taichung, Taiwan"]]],
    ["1.164.200.0/22", PLACES.taiwanOnly, [["1.164.201.9", "Taiwan"]]],
    ["81.2.69.0/24", PLACES.london, [["81.2.69.142", "London, United Kingdom"]]],
    [
      "89.160.20.128/25",
      PLACES.linkoping,
      [
        ["89.160.20.200", "Linköping, Sweden"],
        ["89.160.20.127", null],
      ],
    ],
    ["186.192.0.0/11", PLACES.saoPaulo, [["186.200.1.1", "São Paulo, Brazil"]]],
    ["2.16.0.0/13", PLACES.zurich, [["2.17.0.1", "Zürich, Switzerland"]]],
    ["5.172.0.0/16", PLACES.krakow, [["5.172.255.255", "Kraków, Poland"]]],
    ["67.43.156.0/24", PLACES.bhutan, [["67.43.156.1", "Bhutan"]]],
    ["126.0.0.0/8", PLACES.sapporo, [["126.1.2.3", "Japan"]]],
    ["31.0.0.0/8", PLACES.continentOnly, [["31.4.4.4", null]]],
    ["45.0.0.0/8", PLACES.registeredOnly, [["45.1.1.1", null]]],
    ["77.77.77.0/24", PLACES.allTypes, [["77.77.77.77", null]]],
  ];
const FIXED_V6: typeof FIXED = [
  [
    "2001:b000::/20",
    PLACES.taipei,
    [
      ["2001:b000::1", "Taipei, Taiwan"],
      ["2001:b0ff:ffff::", "Taipei, Taiwan"],
    ],
  ],
  ["2001:b030:1234::/48", PLACES.taichung, [["2001:b030:1234:5::6", "Taichung, Taiwan"]]],
  ["2a02:cf40::/29", PLACES.london, [["2a02:cf40::abcd", "London, United Kingdom"]]],
  ["2804::/16", PLACES.saoPaulo, [["2804:14c:0:0:0:0:0:1", "São Paulo, Brazil"]]],
  ["2a0b:b000::/20", PLACES.bhutan, [["2a0b:b000::", "Bhutan"]]],
  ["2400:4050::/32", PLACES.sapporo, [["2400:4050:ffff::1", "Japan"]]],
];
const POOL = Object.values(PLACES);

/** Random public networks (overlapping at times: the writer lets the more specific win). */
function randomNetworks(seed: number, ipVersion: 4 | 6): MMDBNetwork[] {
  const random = mulberry32(seed);
  const networks: MMDBNetwork[] = [];
  while (networks.length < 60) {
    const record = POOL[Math.floor(random() * POOL.length)]!;
    const length = 8 + Math.floor(random() * 21);
    const v4 = [1 + Math.floor(random() * 222), ...[0, 0, 0].map(() => Math.floor(random() * 256))];
    const bytes = new Uint8Array(v4);
    if (isNonGlobalAddress(bytes)) continue;
    networks.push({ cidr: `${v4.join(".")}/${length}`, record });
    if (ipVersion === 6 && networks.length % 2 === 0) {
      const groups = [
        0x2000 + Math.floor(random() * 0x1000),
        ...[0, 0, 0].map(() => Math.floor(random() * 65536)),
      ];
      networks.push({
        cidr: `${groups.map((g) => g.toString(16)).join(":")}::/${16 + Math.floor(random() * 49)}`,
        record,
      });
    }
  }
  return networks;
}

/** One address inside each network, and random public addresses (mostly in no network). */
function probes(seed: number, networks: readonly MMDBNetwork[], ipVersion: 4 | 6): string[] {
  const random = mulberry32(seed + 1);
  const out: string[] = [];
  for (const { cidr } of networks) {
    const [address, lengthText] = cidr.split("/") as [string, string];
    const bytes = parseIPAddress(address)!;
    const length = Number(lengthText);
    for (let bit = length; bit < bytes.length * 8; bit++) {
      if (random() < 0.5) bytes[bit >> 3]! |= 0x80 >> (bit & 7);
    }
    out.push(formatAddress(bytes));
  }
  for (let i = 0; i < 20; i++) {
    const bytes =
      i % 2 === 0
        ? new Uint8Array([1 + Math.floor(random() * 222), 1, 2, Math.floor(random() * 256)])
        : new Uint8Array([
            0x20,
            Math.floor(random() * 256),
            ...new Array(14).fill(0).map(() => Math.floor(random() * 256)),
          ]);
    if (!isNonGlobalAddress(bytes) && (bytes.length === 4 || ipVersion === 6)) out.push(formatAddress(bytes));
  }
  return out;
}

function formatAddress(bytes: Uint8Array): string {
  if (bytes.length === 4) return bytes.join(".");
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return groups.join(":");
}

// --- libmaxminddb's mmdblookup as the independent reader. ---

function hasMmdblookup(): boolean {
  try {
    execFileSync("mmdblookup", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** A value as mmdblookup prints it: a map, an array, or a scalar with its type name. */
type Dumped = { type: string; text: string } | Dumped[] | Map<string, Dumped>;

/** The record mmdblookup finds for an address, parsed from its dump; null when it finds none. */
function mmdblookup(file: string, ip: string): Dumped | null {
  const run = spawnSync("mmdblookup", ["--file", file, "--ip", ip], { encoding: "utf8" });
  if (run.error)
    throw new Error(`mmdblookup is required under CI=true (apt-get install mmdb-bin): ${run.error.message}`);
  if (run.status !== 0) {
    if (`${run.stdout}${run.stderr}`.includes("Could not find an entry")) return null;
    throw new Error(`mmdblookup ${ip} failed (${run.status}): ${run.stdout}${run.stderr}`);
  }
  const lines = run.stdout
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "");
  let i = 0;
  const value = (): Dumped => {
    const line = lines[i++]!;
    if (line === "{") {
      const map = new Map<string, Dumped>();
      while (lines[i] !== "}") {
        const key = /^"(.*)":$/.exec(lines[i++]!);
        assert.ok(key, `mmdblookup key line: ${lines[i - 1]}`);
        map.set(key[1]!, value());
      }
      i++;
      return map;
    }
    if (line === "[") {
      const items: Dumped[] = [];
      while (lines[i] !== "]") items.push(value());
      i++;
      return items;
    }
    const scalar = /^(.*?) ?<(\w+)>$/.exec(line);
    assert.ok(scalar, `mmdblookup value line: ${line}`);
    return { type: scalar[2]!, text: scalar[1]! };
  };
  return value();
}

/** Asserts that our decoded value is what mmdblookup printed, type by type. */
function assertSameValue(ours: MMDBValue, theirs: Dumped, path: string): void {
  if (theirs instanceof Map) {
    assert.ok(typeof ours === "object" && ours !== null && !Array.isArray(ours), `${path} is a map`);
    const map = ours as Record<string, MMDBValue>;
    assert.deepEqual(Object.keys(map).sort(), [...theirs.keys()].sort(), `${path} keys`);
    for (const [key, item] of theirs) assertSameValue(map[key]!, item, `${path}.${key}`);
    return;
  }
  if (Array.isArray(theirs)) {
    assert.ok(Array.isArray(ours), `${path} is an array`);
    assert.equal(ours.length, theirs.length, `${path} length`);
    theirs.forEach((item, i) => {
      assertSameValue(ours[i]!, item, `${path}[${i}]`);
    });
    return;
  }
  const { type, text } = theirs;
  switch (type) {
    case "utf8_string":
      assert.equal(ours, text.slice(1, -1), path);
      break;
    case "double":
    case "float":
      // mmdblookup prints these with printf's %f: six decimals.
      assert.equal(typeof ours, "number", path);
      assert.ok(Math.abs((ours as number) - Number(text)) <= 5e-7, `${path}: ${String(ours)} vs ${text}`);
      break;
    case "uint16":
    case "uint32":
    case "int32":
      assert.equal(ours, Number(text), path);
      break;
    case "uint64":
    case "uint128":
      assert.equal(ours, BigInt(text), path);
      break;
    case "boolean":
      assert.equal(ours, text === "true", path);
      break;
    case "bytes":
      assert.ok(ours instanceof Uint8Array, path);
      assert.equal(Buffer.from(ours).toString("hex").toUpperCase(), text, path);
      break;
    default:
      assert.fail(`${path}: mmdblookup printed unexpected type ${type}`);
  }
}

/** The place the push context should show for a record mmdblookup found. */
function placeFromDump(dump: Dumped | null): string | null {
  const english = (key: string): string | null => {
    if (!(dump instanceof Map)) return null;
    const en = (
      (dump.get(key) as Map<string, Dumped> | undefined)?.get("names") as Map<string, Dumped> | undefined
    )?.get("en") as { text: string } | undefined;
    return en === undefined ? null : en.text.slice(1, -1);
  };
  const city = english("city");
  const where = english("country");
  return city !== null && where !== null ? `${city}, ${where}` : (where ?? city);
}

function fixedNetworks(ipVersion: 4 | 6): MMDBNetwork[] {
  const rows = ipVersion === 6 ? [...FIXED, ...FIXED_V6] : FIXED;
  return rows.map(([cidr, record]) => ({ cidr, record }));
}

const VARIANTS: ReadonlyArray<{ name: string; options: MMDBWriterOptions; seed: number }> = [
  { name: "IPv4 tree, 24-bit records, 11-bit pointers", options: { ipVersion: 4, recordSize: 24 }, seed: 1 },
  {
    // 16.76 MB of cache padding: tree records past 2^24 use the 28-bit records' shared nibble byte.
    name: "IPv4 tree, 28-bit records past 2^24, data cache with 27-bit pointers",
    options: { ipVersion: 4, recordSize: 28, cache: { padding: 16_760_000 } },
    seed: 2,
  },
  {
    name: "IPv4 tree, 32-bit records, 32-bit pointers, end marker",
    options: { ipVersion: 4, recordSize: 32, widePointers: true, endMarker: true },
    seed: 3,
  },
  {
    name: "IPv6 tree, 24-bit records, data cache with 19-bit pointers, ::ffff:0:0/96 alias",
    options: { ipVersion: 6, recordSize: 24, cache: { padding: 4000 }, ipv4MappedAlias: true },
    seed: 4,
  },
  {
    name: "IPv6 tree, 28-bit records, 32-bit pointers",
    options: { ipVersion: 6, recordSize: 28, widePointers: true },
    seed: 5,
  },
  {
    name: "IPv6 tree, 32-bit records, data cache with 27-bit pointers, end marker",
    options: { ipVersion: 6, recordSize: 32, cache: { padding: 530_000 }, endMarker: true },
    seed: 6,
  },
];

describe("agreement with mmdblookup (Debian mmdb-bin, libmaxminddb)", {
  skip:
    !hasMmdblookup() && process.env["CI"] !== "true"
      ? "mmdblookup not installed (apt-get install mmdb-bin)"
      : false,
}, () => {
  for (const { name, options, seed } of VARIANTS) {
    test(name, () => {
      const networks = [...randomNetworks(seed, options.ipVersion), ...fixedNetworks(options.ipVersion)];
      const file = writeDB(buildMMDB(networks, options));
      const reader = openMMDB(file);
      const geoip = openGeoIP(file);
      assert.equal(reader.recordSize, options.recordSize);
      assert.equal(reader.ipVersion, options.ipVersion);

      const addresses = probes(seed, networks, options.ipVersion);
      let found = 0;
      for (const ip of addresses) {
        const theirs = mmdblookup(file, ip);
        const ours = reader.record(ip);
        if (theirs === null) {
          assert.equal(ours, null, `${ip}: mmdblookup finds nothing`);
        } else {
          found++;
          assert.notEqual(ours, null, `${ip}: mmdblookup finds a record`);
          assertSameValue(ours!, theirs, ip);
        }
        // Addresses no database can place (a probe inside 172.0.0.0/8 may be in 172.16.0.0/12) have none.
        const expected = isNonGlobalAddress(parseIPAddress(ip)!) ? null : placeFromDump(theirs);
        assert.equal(geoip.lookup(ip), expected, `place for ${ip}`);
      }
      // The probes reach both sides of the tree: found records, and addresses in no network.
      assert.ok(found >= 40 && found < addresses.length, `${found} of ${addresses.length} found`);

      // Every data type, compared field by field.
      const allTypes = mmdblookup(file, "77.77.77.77");
      assert.ok(allTypes instanceof Map && allTypes.has("uint128") && allTypes.has("float"));
      assertSameValue(reader.record("77.77.77.77")!, allTypes, "allTypes");

      if (options.ipv4MappedAlias) {
        // With MaxMind's alias both readers find IPv4 data under ::ffff:0:0/96 too.
        const theirs = mmdblookup(file, "::ffff:1.160.0.1");
        assert.equal(placeFromDump(theirs), "Taipei, Taiwan");
        assert.equal(geoip.lookup("::ffff:1.160.0.1"), "Taipei, Taiwan");
      }
      geoip.close();
      reader.close();
    });
  }
});

describe("places", () => {
  for (const ipVersion of [4, 6] as const) {
    test(`IPv${ipVersion} tree: city and country in English, country alone, or null`, () => {
      const file = writeDB(buildMMDB(fixedNetworks(ipVersion), { ipVersion, recordSize: 28 }));
      const geoip = openGeoIP(file);
      const rows = ipVersion === 6 ? [...FIXED, ...FIXED_V6] : FIXED;
      for (const [, , expectations] of rows) {
        for (const [ip, place] of expectations) assert.equal(geoip.lookup(ip), place, ip);
      }
      // A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d; the database need not alias it.
      assert.equal(geoip.lookup("::ffff:1.160.0.1"), "Taipei, Taiwan");
      assert.equal(geoip.lookup("::FFFF:81.2.69.142"), "London, United Kingdom");
      assert.equal(geoip.lookup("0:0:0:0:0:ffff:5102:458e"), "London, United Kingdom");
      assert.equal(geoip.lookup("::81.2.69.142"), "London, United Kingdom");
      if (ipVersion === 4)
        assert.equal(geoip.lookup("2001:b000::1"), null, "IPv6 address, IPv4-only database");
    });
  }

  test("metadata: database type, build time and IP version", () => {
    const file = writeDB(
      buildMMDB(fixedNetworks(6), {
        ipVersion: 6,
        recordSize: 24,
        databaseType: "GeoLite2-City",
        buildEpoch: 1_780_000_000n,
      }),
    );
    const geoip = openGeoIP(file);
    assert.deepEqual(geoip.metadata, {
      databaseType: "GeoLite2-City",
      buildEpoch: 1_780_000_000,
      ipVersion: 6,
    });
    assert.ok(Object.isFrozen(geoip.metadata));
  });

  test("an address in no network of the tree has no place", () => {
    const file = writeDB(buildMMDB(fixedNetworks(6), { ipVersion: 6, recordSize: 24 }));
    const geoip = openGeoIP(file);
    for (const ip of ["8.8.8.8", "1.159.255.255", "1.176.0.0", "2a00:1450::1", "2001:c000::1", "3fff::"]) {
      assert.equal(geoip.lookup(ip), null, ip);
      assert.equal(openMMDB(file).record(ip), null, ip);
    }
  });

  test("private, loopback, link-local, CGNAT and multicast addresses have no place, even when the file has one", () => {
    const nowhere = cityRecord("Nowhere", europe, country("XX", "Nowhere Land"));
    const privateNets = [
      "0.0.0.0/8",
      "10.0.0.0/8",
      "100.64.0.0/10",
      "127.0.0.0/8",
      "169.254.0.0/16",
      "172.16.0.0/12",
      "192.168.0.0/16",
      "224.0.0.0/4",
      "240.0.0.0/4",
      "fc00::/7",
      "fe80::/10",
      "ff00::/8",
    ];
    const networks = [
      ...privateNets.map((cidr) => ({ cidr, record: nowhere })),
      { cidr: "::1/128", record: nowhere },
    ];
    const file = writeDB(buildMMDB([...networks, ...fixedNetworks(6)], { ipVersion: 6, recordSize: 32 }));
    const geoip = openGeoIP(file);
    const reader = openMMDB(file);
    for (const ip of [
      "10.1.2.3",
      "172.20.0.5",
      "192.168.1.10",
      "127.0.0.1",
      "169.254.10.10",
      "100.100.100.100",
      "0.0.0.0",
      "224.0.0.251",
      "255.255.255.255",
      "::ffff:192.168.1.10",
      "::ffff:10.0.0.1",
      "::1",
      "::",
      "fd12:3456::1",
      "fe80::1%eth0",
      "ff02::1",
    ]) {
      assert.equal(geoip.lookup(ip), null, ip);
    }
    // The file does place them: the refusal is the reader's, not an empty tree.
    assert.ok(reader.record("10.1.2.3"));
    assert.ok(reader.record("fd12:3456::1"));
    assert.equal(geoip.lookup("81.2.69.142"), "London, United Kingdom");
  });

  test("anything that is not an IP address has no place", () => {
    const geoip = openGeoIP(writeDB(buildMMDB(fixedNetworks(6), { ipVersion: 6, recordSize: 24 })));
    for (const input of [
      "",
      "London",
      "1.160.0",
      "1.160.0.1.5",
      "256.1.1.1",
      "1.160.0.1/24",
      " 1.160.0.1",
      "01.160.0.1",
      "2001:b000::1::2",
      "2001:b000:g::1",
      "1.160.0.1:443",
      "[2001:b000::1]",
    ]) {
      assert.equal(geoip.lookup(input), null, JSON.stringify(input));
    }
    for (const input of [undefined, null, 16777216, {}] as unknown as string[]) {
      assert.equal(geoip.lookup(input), null, String(input));
    }
  });

  test("names are shown as one short line: no control or bidi characters, long names cut, huge ones dropped", () => {
    const networks: MMDBNetwork[] = [
      { cidr: "11.0.0.0/8", record: { city: { names: { en: "Evil\u202Etown\n\u0007" } }, country: taiwan } },
      { cidr: "12.0.0.0/8", record: { city: { names: { en: "A".repeat(200) } }, country: taiwan } },
      { cidr: "13.0.0.0/8", record: { city: { names: { en: "B".repeat(5000) } }, country: taiwan } },
      {
        cidr: "14.0.0.0/8",
        record: { city: { names: { en: " \t " } }, country: { names: { en: "  Taiwan  " } } },
      },
      { cidr: "15.0.0.0/8", record: { city: { names: { en: 42 } }, country: { names: "Taiwan" } } },
    ];
    const geoip = openGeoIP(writeDB(buildMMDB(networks, { ipVersion: 4, recordSize: 24 })));
    assert.equal(geoip.lookup("11.1.1.1"), "Eviltown, Taiwan");
    assert.equal(geoip.lookup("12.1.1.1"), `${"A".repeat(80)}, Taiwan`);
    assert.equal(geoip.lookup("13.1.1.1"), "Taiwan");
    assert.equal(geoip.lookup("14.1.1.1"), "Taiwan");
    assert.equal(geoip.lookup("15.1.1.1"), null);
  });

  test("after close, lookups have no place", () => {
    const geoip = openGeoIP(writeDB(buildMMDB(fixedNetworks(4), { ipVersion: 4, recordSize: 24 })));
    assert.equal(geoip.lookup("81.2.69.142"), "London, United Kingdom");
    geoip.close();
    assert.equal(geoip.lookup("81.2.69.142"), null);
  });

  test("the metadata marker is found by its last occurrence, even when a record contains it", () => {
    const marker = Buffer.from("abcdef4d61784d696e642e636f6d", "hex");
    const networks = [...fixedNetworks(4), { cidr: "99.0.0.0/8", record: { blob: new Uint8Array(marker) } }];
    const geoip = openGeoIP(writeDB(buildMMDB(networks, { ipVersion: 4, recordSize: 24 })));
    assert.equal(geoip.lookup("81.2.69.142"), "London, United Kingdom");
  });
});

/** Asserts that opening fails with a TwofoldError whose message names the file and says why. */
function assertRefused(path: string, why: RegExp): void {
  assert.throws(
    () => openGeoIP(path),
    (error: unknown) => {
      assert.ok(isTwofoldError(error), `TwofoldError expected, got ${String(error)}`);
      assert.equal(error.code, "ERR_CONFIG_INVALID");
      assert.ok(error.message.includes(path), `message names the file: ${error.message}`);
      assert.match(error.message, why);
      return true;
    },
  );
}

describe("corrupt and hostile files", () => {
  const good = buildMMDB(fixedNetworks(6), { ipVersion: 6, recordSize: 28 });

  test("opening refuses, naming the file, what is not a readable MaxMind DB", () => {
    assertRefused(join(dir, "missing.mmdb"), /cannot be opened \(ENOENT\)/);
    const folder = join(dir, "a-folder.mmdb");
    mkdirSync(folder);
    assertRefused(folder, /not a regular file|cannot be opened/);
    assertRefused(writeDB(new Uint8Array(0)), /no MaxMind DB metadata marker/);
    assertRefused(
      writeDB(new Uint8Array(Buffer.from("GeoIP database, honest"))),
      /no MaxMind DB metadata marker/,
    );
    const random = mulberry32(99);
    assertRefused(
      writeDB(new Uint8Array(200_000).map(() => Math.floor(random() * 256))),
      /no MaxMind DB metadata marker/,
    );
    // Truncated downloads: the metadata (at the end) is cut off, or cut into.
    assertRefused(writeDB(good.subarray(0, Math.floor(good.length / 2))), /no MaxMind DB metadata marker/);
    assertRefused(writeDB(good.subarray(0, good.length - 20)), /unreadable metadata/);
  });

  test("opening refuses metadata it cannot trust", () => {
    const withMetadata = (metadata: Record<string, WriterValue | null>) =>
      writeDB(buildMMDB(fixedNetworks(6), { ipVersion: 6, recordSize: 28, metadata }));
    assertRefused(withMetadata({ record_size: uint16(20) }), /record size 20/);
    assertRefused(withMetadata({ record_size: null }), /record size missing/);
    assertRefused(withMetadata({ ip_version: uint16(5) }), /ip_version 5/);
    assertRefused(withMetadata({ binary_format_major_version: uint16(3) }), /major version 3/);
    assertRefused(withMetadata({ node_count: 0 }), /node_count/);
    assertRefused(withMetadata({ node_count: "many" }), /node_count/);
    assertRefused(withMetadata({ node_count: 10_000_000 }), /truncated: its 10000000-node search tree/);
    assertRefused(withMetadata({ database_type: null }), /database_type/);
    assertRefused(withMetadata({ build_epoch: "yesterday" }), /build_epoch/);
    // Most of the search tree and data cut out of the middle: the node count no longer fits.
    const marker = Buffer.from("abcdef4d61784d696e642e636f6d", "hex");
    const markerAt = Buffer.from(good).lastIndexOf(marker);
    assertRefused(
      writeDB(new Uint8Array([...good.subarray(0, 100), ...good.subarray(markerAt - 50)])),
      /truncated/,
    );
    // Metadata that is a string, arrays nested 100 deep, a map whose key points back at it.
    const prefix = good.subarray(0, markerAt + marker.length);
    assertRefused(writeDB(new Uint8Array([...prefix, 0x42, 0x68, 0x69])), /metadata that is not a map/);
    const deepArrays = new Array(100).fill([0x01, 0x04]).flat();
    assertRefused(
      writeDB(new Uint8Array([...prefix, ...deepArrays, 0xc0])),
      /unreadable metadata.*nested deeper/,
    );
    assertRefused(
      writeDB(new Uint8Array([...prefix, 0xe1, 0x20, 0x00, 0xc0])),
      /unreadable metadata.*not a string/,
    );
  });

  test("a pointer loop or a pointer to a pointer gives no place, and decoding it stops", () => {
    const cases: Record<string, WriterValue> = {
      "a record that is a pointer to itself": pointer(0),
      "a map whose values point back at it": { city: pointer(0), country: pointer(0) },
      "names pointing at the enclosing record": {
        country: { names: pointer(0) },
        city: { names: pointer(0) },
      },
      "an array containing itself": { country: [pointer(0)] },
      "a map whose key is a pointer to the map": raw([0xe1, 0x20, 0x00, 0x42, 0x68, 0x69]),
    };
    for (const [name, record] of Object.entries(cases)) {
      const file = writeDB(buildMMDB([{ cidr: "20.0.0.0/8", record }], { ipVersion: 4, recordSize: 24 }));
      const geoip = openGeoIP(file);
      const started = performance.now();
      assert.equal(geoip.lookup("20.1.2.3"), null, name);
      assert.throws(
        () => openMMDB(file).record("20.1.2.3"),
        /pointer|nested deeper|too many fields|key is not a string/,
        name,
      );
      assert.ok(performance.now() - started < 1000, `${name} stops promptly`);
    }
  });

  test("corrupt fields and tree records give no place", () => {
    const cases: Record<string, WriterValue> = {
      "a map claiming 16 million pairs": raw([0xff, 0xff, 0xff, 0xff]),
      "an unknown extended type": raw([0x00, 0x09]),
      "the extended type byte of a map": raw([0x00, 0x00]),
      "a pointer past the data section": { country: pointer(900_000) },
      "a string running past the data section": { country: { names: { en: raw([0x5f, 0xff, 0xff, 0xff]) } } },
      "a double of 3 bytes": { country: { names: { en: raw([0x63, 1, 2, 3]) } }, city: 1 },
      "a key that is not a string": { country: raw([0xe1, 0xc1, 0x05, 0x42, 0x68, 0x69]) },
    };
    for (const [name, record] of Object.entries(cases)) {
      const file = writeDB(buildMMDB([{ cidr: "20.0.0.0/8", record }], { ipVersion: 4, recordSize: 24 }));
      assert.equal(openGeoIP(file).lookup("20.1.2.3"), null, name);
    }

    // The two valueless types decode to markers, and are no place.
    for (const [bytes, kind] of [
      [[0x00, 0x06], "end"],
      [[0x00, 0x05], "data-cache"],
    ] as const) {
      const file = writeDB(
        buildMMDB([{ cidr: "20.0.0.0/8", record: raw(bytes) }], { ipVersion: 4, recordSize: 24 }),
      );
      assert.deepEqual(openMMDB(file).record("20.1.2.3"), new MMDBMarker(kind));
      assert.equal(openGeoIP(file).lookup("20.1.2.3"), null);
    }

    // Root records (node 0, 24-bit) pointing past the data section, or into the separator.
    for (const value of [0xffffff, 0]) {
      const bytes = buildMMDB(fixedNetworks(4), { ipVersion: 4, recordSize: 24 });
      const nodeCount = openMMDB(writeDB(bytes)).nodeCount;
      const root = value === 0 ? nodeCount + 5 : value;
      bytes.set(
        [root >> 16, (root >> 8) & 0xff, root & 0xff, root >> 16, (root >> 8) & 0xff, root & 0xff],
        0,
      );
      const file = writeDB(bytes);
      const geoip = openGeoIP(file);
      assert.equal(geoip.lookup("81.2.69.142"), null);
      assert.equal(geoip.lookup("200.1.1.1"), null);
      assert.throws(() => openMMDB(file).record("81.2.69.142"), /outside the data section/);
    }
  });

  test("random damage anywhere in the file: opening refuses by name, or every lookup gives a place or null", () => {
    const addresses = [
      ...FIXED.flatMap(([, , rows]) => rows.map(([ip]) => ip)),
      ...FIXED_V6.flatMap(([, , rows]) => rows.map(([ip]) => ip)),
      "8.8.8.8",
      "2a00::1",
    ];
    // Without the all-types record, whose long strings would soak up most of the damage.
    const networks = fixedNetworks(6).filter(({ record }) => record !== PLACES.allTypes);
    const base = buildMMDB(networks, { ipVersion: 6, recordSize: 28, cache: { padding: 10 } });
    const path = join(dir, "fuzzed.mmdb");
    let opened = 0;
    let placed = 0;
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat({ max: base.length - 1 }), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 12,
        }),
        fc.oneof(
          { arbitrary: fc.constant(null), weight: 4 },
          { arbitrary: fc.nat({ max: base.length }), weight: 1 },
        ),
        (damage, truncateAt) => {
          const bytes = new Uint8Array(base);
          for (const [at, value] of damage) bytes[at] = value;
          writeFileSync(path, truncateAt === null ? bytes : bytes.subarray(0, truncateAt));
          let geoip: ReturnType<typeof openGeoIP>;
          try {
            geoip = openGeoIP(path);
          } catch (error) {
            assert.ok(isTwofoldError(error) && error.message.includes(path), String(error));
            return;
          }
          opened++;
          for (const ip of addresses) {
            const started = performance.now();
            const place = geoip.lookup(ip);
            assert.ok(place === null || (typeof place === "string" && place.length > 0));
            assert.ok(performance.now() - started < 500, `lookup of ${ip} stops promptly`);
            if (place !== null) placed++;
          }
        },
      ),
      { numRuns: 400 },
    );
    // Most damage leaves the file openable: the lookups above did run on damaged data.
    assert.ok(opened > 100 && placed > 0, `${opened} opened, ${placed} places`);
  });
});
