import type * as grpc from "@grpc/grpc-js";
import type { TlsOptions } from "../connect-options.js";
import type { DaemonAddress } from "./address.js";
import { formatAddress, parseAddress } from "./address.js";
import { channelCredentials, resolveTls } from "./tls-credentials.js";

/** BuildKit's own clients use 16 MiB both ways (docs/buildkit-wire.md#message-size); grpc-js would otherwise receive only 4 MiB. */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/** Everything needed to build a grpc-js channel to one daemon, plus what must be released afterwards. */
export interface Transport {
  address: DaemonAddress;
  /** The address as given, canonicalised, for messages. */
  display: string;
  target: string;
  credentials: grpc.ChannelCredentials;
  channelOptions: grpc.ChannelOptions;
  /** The channel is TLS (tcp:// with any TLS material). */
  tls: boolean;
  /** The Docker Engine's API socket, when the address is one (`docker-engine://`): the Engine can be asked about itself there. */
  engineSocket?: string;
  /** Why the last connection attempt failed below gRPC, when the transport knows (the Engine's upgrade answer). */
  lastError(): Error | undefined;
  close(): Promise<void>;
}

export async function openTransport(address: string, tls: TlsOptions | undefined, env: NodeJS.ProcessEnv): Promise<Transport> {
  const parsed = parseAddress(address);
  const display = formatAddress(parsed);
  const channelOptions: grpc.ChannelOptions = {
    "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
    "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
  };
  const none = (): undefined => undefined;
  switch (parsed.scheme) {
    case "tcp": {
      const resolved = resolveTls(tls, env);
      if (resolved?.serverName) {
        channelOptions["grpc.ssl_target_name_override"] = resolved.serverName;
        channelOptions["grpc.default_authority"] = resolved.serverName;
      }
      const host = parsed.host.includes(":") && !parsed.host.startsWith("[") ? `[${parsed.host}]` : parsed.host;
      return {
        address: parsed,
        display,
        target: `${host}:${parsed.port}`,
        credentials: channelCredentials(resolved),
        channelOptions,
        tls: resolved !== undefined,
        lastError: none,
        close: async () => {},
      };
    }
    case "unix":
      return {
        address: parsed,
        display,
        target: `unix://${parsed.path}`,
        credentials: channelCredentials(undefined),
        channelOptions,
        tls: false,
        lastError: none,
        close: async () => {},
      };
    case "docker-engine": {
      // Loaded for an Engine address only (start-up of a buildkitd client loads less).
      const { EngineUpgradeCredentials } = await import("./engine-upgrade.js");
      const credentials = new EngineUpgradeCredentials();
      return {
        address: parsed,
        display,
        target: `unix://${parsed.socketPath}`,
        engineSocket: parsed.socketPath,
        credentials,
        channelOptions,
        tls: false,
        lastError: () => credentials.lastError,
        close: async () => {},
      };
    }
  }
}
