import { parentPort } from "node:worker_threads";
import { MalformedDeliveryError } from "./intake-errors.js";
import { projectPayload } from "./payload-projection.js";
import { NOT_UTF8_JSON, parsePayloadText } from "./webhook-payload.js";
import type { WebhookPayload } from "./webhook-payload.js";

/** From the intake: the chunks of one body as they arrive, then `parse` once its signature matched, or `drop`. */
export type ToBodyWorker = { kind: "parse"; id: number; name: string; chunks: Uint8Array[] };

export type FromBodyWorker =
  | { kind: "parsed"; id: number; payload: WebhookPayload }
  | { kind: "invalid"; id: number; message: string }
  | { kind: "failed"; id: number; message: string };

const port = parentPort;
if (!port) throw new Error("body-worker.ts runs as a worker thread");

/**
 * The chunks come only once the signature matched (a refused body never reaches the thread). Each is decoded and
 * let go in turn, so the thread holds the raw bytes and their text at once only for the chunk at hand.
 */
function parse(id: number, name: string, chunks: (Uint8Array | undefined)[]): FromBodyWorker {
  try {
    const decoder = new TextDecoder("utf-8", { fatal: true });
    const text: string[] = [];
    try {
      for (let i = 0; i < chunks.length; i++) {
        text.push(decoder.decode(chunks[i], { stream: true }));
        chunks[i] = undefined;
      }
      text.push(decoder.decode());
    } catch {
      throw new MalformedDeliveryError(NOT_UTF8_JSON);
    }
    const whole = text.join("");
    text.length = 0;
    const payload = parsePayloadText(name, whole);
    return { kind: "parsed", id, payload: projectPayload(name, payload) };
  } catch (err) {
    if (err instanceof MalformedDeliveryError) return { kind: "invalid", id, message: err.message };
    return { kind: "failed", id, message: err instanceof Error ? err.message : String(err) };
  }
}

port.on("message", (msg: ToBodyWorker) => {
  port.postMessage(parse(msg.id, msg.name, msg.chunks));
});
