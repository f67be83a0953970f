// `twofold certs dev`: a local CA and a certificate for this machine's LAN addresses, to try the demo from a phone.
import type { Command } from "../command.ts";
import { shellWord } from "../command-line.ts";
import { createDevCertificates, lanAddress } from "../dev-certificates.ts";

/** Where `certs dev` writes by default: beside the demo's database (./data). */
export const DEV_CERTS_DIR = "data/certs";
/** The port the printed HTTPS command uses (8080 stays free for the plain demo). */
export const DEV_TLS_PORT = 8443;

export const certsCommands: Command[] = [
  {
    path: ["certs", "dev"],
    summary: "make a local CA and a TLS certificate for this machine's LAN addresses (needs openssl)",
    options: {
      dir: { type: "string", value: "DIR", description: `where to write them (default ${DEV_CERTS_DIR})` },
    },
    details:
      "For trying the demo from a phone: the Twofold Authenticator needs HTTPS (browsers allow its camera,\n" +
      "keys and service worker only on secure origins). Keeps an existing CA, so a phone that trusts it keeps\n" +
      "working; makes a new server certificate (397 days) for localhost, the host name and every address.\n" +
      "Never use these for real users.",
    async run(ctx) {
      const dir = ctx.string("dir") ?? DEV_CERTS_DIR;
      const made = createDevCertificates(ctx.path(dir), ctx.env);
      const address = lanAddress() ?? "localhost";
      const files = (name: string) => shellWord(`${dir.replace(/\/+$/, "")}/${name}`);
      const serve = ctx.commandLine(
        `serve --host 0.0.0.0 --port ${DEV_TLS_PORT} --tls-cert ${files("server.pem")} --tls-key ${files("server-key.pem")} --public-url https://${address}:${DEV_TLS_PORT}`,
      );
      ctx.out.data({ ...made, serve }, () => {
        const out = ctx.out;
        out.line(
          `${made.caCreated ? "Made" : "Kept"} the development CA: ${made.caPEM} (for phones: ${made.caDER})`,
        );
        out.line(`Made a server certificate: ${made.cert} (key ${made.key})`);
        out.line(`  for ${[...made.dnsNames, ...made.addresses].join(", ")}`);
        out.line();
        out.line("Next:");
        out.line(`  1. Install ${made.caDER} on the phone as a trusted CA certificate`);
        out.line(
          "     (Android: Settings › Security › Encryption & credentials › Install a certificate › CA certificate;",
        );
        out.line(
          "      iPhone: open the file, install the profile, then Settings › General › About › Certificate Trust Settings).",
        );
        out.line(`  2. Run: ${serve}`);
        out.line(
          `  3. On the phone (same Wi-Fi), open https://${address}:${DEV_TLS_PORT}/ and activate the authenticator.`,
        );
      });
      return 0;
    },
  },
];
