import type * as grpc from "@grpc/grpc-js";

/**
 * TLS material for `tcp://` addresses. Each item may be given as PEM content (`ca`, `cert`, `key`) or as a file
 * path (`caFile`, `certFile`, `keyFile`); content wins when both are set. `cert` and `key` go together (mutual TLS).
 *
 * Environment fallbacks, read only for `tcp://` addresses and only for items not given here (the same files
 * buildctl takes as `--tlscacert`, `--tlscert`, `--tlskey`, `--tlsservername`, `--tlsdir`):
 * - `BUILDKIT_TLS_CA_CERT`: path of the CA certificate that signed the daemon's certificate;
 * - `BUILDKIT_TLS_CERT`: path of the client certificate;
 * - `BUILDKIT_TLS_KEY`: path of the client private key;
 * - `BUILDKIT_TLS_SERVER_NAME`: name to verify the daemon's certificate against (default: the address's host);
 * - `BUILDKIT_TLS_DIR`: a directory holding `ca.pem`, `cert.pem` and `key.pem` (used for any of them that exists).
 * Without any CA, certificate or key from either source, `tcp://` is plain-text gRPC.
 */
export interface TlsOptions {
  ca?: string | Buffer;
  caFile?: string;
  cert?: string | Buffer;
  certFile?: string;
  key?: string | Buffer;
  keyFile?: string;
  serverName?: string;
}

export interface ConnectOptions {
  tls?: TlsOptions;
  /** grpc-js client interceptors on every Control call (tracing, request logging, tests). */
  interceptors?: grpc.Interceptor[];
  /** How long `connect` waits for the daemon to answer before failing with a ConnectionError. Default 5000. */
  connectTimeoutMs?: number;
  /** Environment used for `BUILDKIT_HOST` and the `BUILDKIT_TLS_*` fallbacks. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 5000;
