import { existsSync, readFileSync } from "node:fs";
import { isIP } from "node:net";
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
  return new IpSafeTlsCredentials(grpc.credentials.createSsl(tls.ca ?? null, tls.key ?? null, tls.cert ?? null));
}

type SecureConnector = ReturnType<grpc.ChannelCredentials["_createSecureConnector"]>;

/**
 * grpc-js (1.14) sends the target's host as the TLS server name even when it is an IP address, which TLS does not
 * allow (RFC 6066) and Node 26 refuses outright ("Setting the TLS ServerName to an IP address is not permitted"), so
 * `tcp://127.0.0.1:1234` with mTLS could not connect. For an IP target this leaves the server name out and names
 * the IP as the host instead, against which Node checks the certificate (its IP SANs), as before. Everything else is
 * grpc-js's own TLS connector. It reaches the connector's `connectionOptions`, an internal of the version pinned in
 * the lock file; a test connects to 127.0.0.1 over mTLS with no server name.
 */
class IpSafeTlsCredentials extends grpc.ChannelCredentials {
  constructor(private readonly inner: grpc.ChannelCredentials) {
    super();
  }

  override _isSecure(): boolean {
    return true;
  }

  override _equals(other: grpc.ChannelCredentials): boolean {
    return other === this;
  }

  override compose(callCredentials: grpc.CallCredentials): grpc.ChannelCredentials {
    return new IpSafeTlsCredentials(this.inner.compose(callCredentials));
  }

  override _createSecureConnector(...args: Parameters<grpc.ChannelCredentials["_createSecureConnector"]>): SecureConnector {
    const connector = this.inner._createSecureConnector(...args);
    const options = (connector as unknown as { connectionOptions?: { servername?: string; host?: string } }).connectionOptions;
    if (options?.servername !== undefined && isIP(options.servername) !== 0) {
      options.host = options.servername;
      delete options.servername;
    }
    return connector;
  }
}
