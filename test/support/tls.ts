import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface CertificateAuthority {
  /** PEM of the CA certificate. */
  cert: Buffer;
  certFile: string;
  keyFile: string;
}

export interface IssuedCert {
  cert: Buffer;
  key: Buffer;
  certFile: string;
  keyFile: string;
}

/** A directory of throw-away certificates made with the openssl CLI. */
export interface TlsFixture {
  dir: string;
  createCa(name: string): Promise<CertificateAuthority>;
  /** A server certificate for 127.0.0.1 and localhost. */
  issueServer(ca: CertificateAuthority, name: string): Promise<IssuedCert>;
  issueClient(ca: CertificateAuthority, name: string): Promise<IssuedCert>;
  cleanup(): Promise<void>;
}

export async function createTlsFixture(): Promise<TlsFixture> {
  const dir = await mkdtemp(join(tmpdir(), "bkb-tls-"));
  const openssl = (args: string[]) => run("openssl", args, { cwd: dir });

  const issue = async (ca: CertificateAuthority, name: string, extensions: string): Promise<IssuedCert> => {
    const keyFile = join(dir, `${name}.key`);
    const csrFile = join(dir, `${name}.csr`);
    const certFile = join(dir, `${name}.pem`);
    const extFile = join(dir, `${name}.ext`);
    await writeFile(extFile, extensions);
    await openssl(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", keyFile, "-subj", `/CN=${name}`, "-out", csrFile]);
    await openssl([
      "x509", "-req", "-in", csrFile, "-CA", ca.certFile, "-CAkey", ca.keyFile, "-CAcreateserial",
      "-days", "2", "-sha256", "-extfile", extFile, "-out", certFile,
    ]);
    return { cert: await readFile(certFile), key: await readFile(keyFile), certFile, keyFile };
  };

  return {
    dir,
    async createCa(name) {
      const keyFile = join(dir, `${name}.key`);
      const certFile = join(dir, `${name}.pem`);
      await openssl([
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", keyFile, "-out", certFile,
        "-days", "2", "-sha256", "-subj", `/CN=${name}`,
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
      ]);
      return { cert: await readFile(certFile), certFile, keyFile };
    },
    issueServer: (ca, name) =>
      issue(ca, name, "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n"),
    issueClient: (ca, name) =>
      issue(ca, name, "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n"),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}
