/**
 * Test certificates made with the `openssl` command in a temp dir: a CA, and certificates it signs
 * for 127.0.0.1/localhost (servers) or for a named client. Remove the dir with `remove()`.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Pem {
  cert: string;
  key: string;
}

export interface TestPki {
  readonly dir: string;
  /** The CA's certificate and key (paths). */
  readonly ca: Pem;
  /** A certificate for 127.0.0.1 and localhost, signed by the CA. */
  server(name: string): Pem;
  /** A client certificate (extendedKeyUsage clientAuth) with CN `name`, signed by the CA. */
  client(name: string): Pem;
  remove(): void;
}

function openssl(dir: string, args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"], timeout: 30_000 });
}

export function makePki(caName = "test-ca"): TestPki {
  const dir = mkdtempSync(join(tmpdir(), "crdt-pki-"));
  const ca = { cert: join(dir, `${caName}.pem`), key: join(dir, `${caName}.key`) };
  openssl(dir, ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", `/CN=${caName}`, "-keyout", ca.key, "-out", ca.cert]);
  const issue = (name: string, ext: string): Pem => {
    const pem = { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
    const csr = join(dir, `${name}.csr`);
    const extFile = join(dir, `${name}.ext`);
    writeFileSync(extFile, ext);
    openssl(dir, ["req", "-newkey", "rsa:2048", "-nodes", "-subj", `/CN=${name}`, "-keyout", pem.key, "-out", csr]);
    openssl(dir, ["x509", "-req", "-in", csr, "-CA", ca.cert, "-CAkey", ca.key, "-CAcreateserial", "-days", "2", "-extfile", extFile, "-out", pem.cert]);
    return pem;
  };
  return {
    dir,
    ca,
    server: (name) => issue(name, "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"),
    client: (name) => issue(name, "extendedKeyUsage=clientAuth\n"),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
