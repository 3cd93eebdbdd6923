import { InvalidRequestError } from "../errors.js";

export const DEFAULT_DOCKER_SOCKET = "/var/run/docker.sock";

/** A daemon address, parsed. */
export type DaemonAddress =
  | { scheme: "tcp"; host: string; port: number }
  | { scheme: "unix"; path: string }
  | { scheme: "docker-engine"; socketPath: string };

/**
 * Parses `tcp://host:port`, `unix:///path` or `docker-engine:///path/to/docker.sock` (an empty path means the
 * default Docker socket). Anything else is an InvalidRequestError naming the accepted forms.
 */
export function parseAddress(address: string): DaemonAddress {
  const schemeEnd = address.indexOf("://");
  const scheme = schemeEnd === -1 ? "" : address.slice(0, schemeEnd);
  const rest = schemeEnd === -1 ? "" : address.slice(schemeEnd + 3);
  switch (scheme) {
    case "tcp":
      return parseTcp(address, rest);
    case "unix":
      if (!rest.startsWith("/") || rest.length < 2) {
        throw new InvalidRequestError(`invalid address "${address}": a unix address needs an absolute path (unix:///run/buildkit/buildkitd.sock)`);
      }
      return { scheme: "unix", path: rest };
    case "docker-engine": {
      if (rest !== "" && !rest.startsWith("/")) {
        throw new InvalidRequestError(
          `invalid address "${address}": a docker-engine address needs an absolute socket path (docker-engine:///var/run/docker.sock)`,
        );
      }
      return { scheme: "docker-engine", socketPath: rest === "" || rest === "/" ? DEFAULT_DOCKER_SOCKET : rest };
    }
    default:
      throw new InvalidRequestError(
        `invalid address "${address}": use tcp://host:port, unix:///path/to/buildkitd.sock or docker-engine:///var/run/docker.sock`,
      );
  }
}

function parseTcp(address: string, rest: string): DaemonAddress {
  let url: URL;
  try {
    url = new URL(`tcp://${rest}`);
  } catch {
    throw new InvalidRequestError(`invalid address "${address}": expected tcp://host:port`);
  }
  const port = Number(url.port);
  if (!url.hostname || !url.port || !Number.isInteger(port) || port <= 0 || port > 65535 || (url.pathname !== "" && url.pathname !== "/")) {
    throw new InvalidRequestError(`invalid address "${address}": expected tcp://host:port`);
  }
  return { scheme: "tcp", host: url.hostname, port };
}

/** The address written back in its canonical form (used in messages). */
export function formatAddress(address: DaemonAddress): string {
  switch (address.scheme) {
    case "tcp":
      return `tcp://${address.host}:${address.port}`;
    case "unix":
      return `unix://${address.path}`;
    case "docker-engine":
      return `docker-engine://${address.socketPath}`;
  }
}
