/**
 * Git commits a build actually used, from the `containerimage.buildinfo` exporter response (BuildKit v0.10–v0.11:
 * std-base64 JSON `{ sources: [{ type: "git", ref, pin }] }`, docs/buildkit-wire.md#exporter-response). Empty when the daemon does not send
 * it (Engine 20.10) or it cannot be read.
 */
export function gitPinsOf(exporterResponse: Record<string, string>): string[] {
  const raw = exporterResponse["containerimage.buildinfo"];
  if (!raw) return [];
  try {
    const info = JSON.parse(Buffer.from(raw, "base64").toString("utf8")) as { sources?: Array<{ type?: unknown; pin?: unknown }> };
    return (info.sources ?? []).filter((s) => s.type === "git" && typeof s.pin === "string").map((s) => s.pin as string);
  } catch {
    return [];
  }
}
