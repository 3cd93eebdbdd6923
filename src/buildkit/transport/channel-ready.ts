import * as grpc from "@grpc/grpc-js";

/**
 * Connects `client`'s channel and resolves once it is READY, i.e. the HTTP/2 connection is up (for a Docker
 * Engine: its `/grpc` upgrade was accepted). Rejects at the first failure instead of retrying until `deadline`, so
 * a daemon that is not there is reported at once.
 */
export function channelReady(client: grpc.Client, deadline: number): Promise<void> {
  const channel = client.getChannel();
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const state = channel.getConnectivityState(true);
      if (state === grpc.connectivityState.READY) return resolve();
      if (state === grpc.connectivityState.TRANSIENT_FAILURE || state === grpc.connectivityState.SHUTDOWN) {
        return reject(Object.assign(new Error("Failed to connect"), { code: grpc.status.UNAVAILABLE, details: "Failed to connect" }));
      }
      channel.watchConnectivityState(state, deadline, (err) => {
        if (err) reject(Object.assign(new Error("no answer before the connect timeout"), { code: grpc.status.DEADLINE_EXCEEDED, details: "Deadline exceeded" }));
        else check();
      });
    };
    check();
  });
}
