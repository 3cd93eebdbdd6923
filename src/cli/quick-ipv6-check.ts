import net from "node:net";

let installed = false;

/**
 * grpc-js asks `net.isIPv6` about every TCP address it connects to (pick-first sorts addresses by family). Node's
 * IPv6 pattern costs tens of milliseconds to compile on its first use (V8 builds its bytecode, then native code on
 * the second call): about a twentieth of a short CLI build's CPU. An IPv6 address always has a colon, so a string
 * without one is answered `false` at once; everything else still goes to Node's own check, so every answer is the
 * one Node gives.
 *
 * Installed by the CLI, which owns its process, before a command connects. The library itself leaves Node's
 * built-ins alone: an application embedding it decides such things for its own process.
 */
export function answerIsIPv6WithoutPattern(): void {
  if (installed) return;
  installed = true;
  const isIPv6 = net.isIPv6;
  net.isIPv6 = (input: string): boolean => (typeof input === "string" && !input.includes(":") ? false : isIPv6(input));
}
