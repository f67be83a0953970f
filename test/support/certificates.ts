// Throwaway TLS material for tests: a one-day CA and a server certificate it signs, made with the openssl command.
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { IN_CI } from "./stores.ts";

/** Whether `openssl` can be run. Under CI=true its absence is an error; locally the test skips loudly. */
export function haveOpenSSL(what: string): boolean {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    if (IN_CI) throw new Error("openssl is required under CI=true");
    console.error(`\n*** SKIPPING ${what}: the openssl command is missing ***\n`);
    return false;
  }
}

export interface CertificateFiles {
  ca: string;
  cert: string;
  key: string;
}

/**
 * In `dir`: a P-256 CA (`ca.pem`) and a server certificate (`server.pem`, key `server.key`) for `subjectAltName`
 * (e.g. `DNS:localhost`, `IP:127.0.0.1`), both valid for one day.
 */
export function makeCertificates(
  dir: string,
  subject: { caName: string; commonName: string; subjectAltName: string },
): CertificateFiles {
  const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  openssl(
    ...["req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "1"],
    ...["-subj", `/CN=${subject.caName}`, "-addext", "basicConstraints=critical,CA:TRUE"],
    ...["-addext", "keyUsage=critical,keyCertSign,cRLSign"],
  );
  openssl(
    "req",
    "-new",
    ...ec,
    "-keyout",
    "server.key",
    "-out",
    "server.csr",
    "-subj",
    `/CN=${subject.commonName}`,
  );
  writeFileSync(
    join(dir, "server.ext"),
    `subjectAltName=${subject.subjectAltName}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n`,
  );
  openssl(
    ...["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial"],
    ...["-out", "server.pem", "-days", "1", "-extfile", "server.ext"],
  );
  return { ca: join(dir, "ca.pem"), cert: join(dir, "server.pem"), key: join(dir, "server.key") };
}
