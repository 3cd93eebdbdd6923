import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import type { TlsOptions } from "../connect-options.js";
import { InvalidRequestError } from "../errors.js";

/** TLS material after merging options with the `BUILDKIT_TLS_*` environment (see TlsOptions). */
export interface ResolvedTls {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  serverName?: string;
}

/** Merges explicit options with the environment; undefined when nothing asks for TLS. */
export function resolveTls(options: TlsOptions | undefined, env: NodeJS.ProcessEnv): ResolvedTls | undefined {
  const dir = env.BUILDKIT_TLS_DIR;
  const fromDir = (name: string): string | undefined => {
    if (!dir) return undefined;
    const path = join(dir, name);
    return existsSync(path) ? path : undefined;
  };
  const ca = material("CA certificate", options?.ca, options?.caFile ?? env.BUILDKIT_TLS_CA_CERT ?? fromDir("ca.pem"));
  const cert = material("client certificate", options?.cert, options?.certFile ?? env.BUILDKIT_TLS_CERT ?? fromDir("cert.pem"));
  const key = material("client key", options?.key, options?.keyFile ?? env.BUILDKIT_TLS_KEY ?? fromDir("key.pem"));
  const serverName = options?.serverName ?? env.BUILDKIT_TLS_SERVER_NAME;
  if (!ca && !cert && !key && !serverName) return undefined;
  if ((cert === undefined) !== (key === undefined)) {
    throw new InvalidRequestError("TLS client certificate and key must be given together");
  }
  return { ca, cert, key, serverName };
}

function material(what: string, content: string | Buffer | undefined, file: string | undefined): Buffer | undefined {
  if (content !== undefined) return Buffer.isBuffer(content) ? content : Buffer.from(content);
  if (file === undefined) return undefined;
  try {
    return readFileSync(file);
  } catch (err) {
    throw new InvalidRequestError(`cannot read the TLS ${what} from ${file}: ${(err as Error).message}`);
  }
}

export function channelCredentials(tls: ResolvedTls | undefined): grpc.ChannelCredentials {
  if (!tls) return grpc.credentials.createInsecure();
  return grpc.credentials.createSsl(tls.ca ?? null, tls.key ?? null, tls.cert ?? null);
}
