import { parentPort } from "node:worker_threads";
import { MalformedDeliveryError } from "./intake-errors.js";
import { projectPayload } from "./payload-projection.js";
import { NOT_UTF8_JSON, parsePayloadText } from "./webhook-payload.js";
import type { WebhookPayload } from "./webhook-payload.js";

/** From the intake: the chunks of one body as they arrive, then `parse` once its signature matched, or `drop`. */
export type ToBodyWorker =
  | { kind: "chunk"; id: number; chunk: Uint8Array }
  | { kind: "parse"; id: number; name: string }
  | { kind: "drop"; id: number };

export type FromBodyWorker =
  | { kind: "parsed"; id: number; payload: WebhookPayload }
  | { kind: "invalid"; id: number; message: string }
  | { kind: "failed"; id: number; message: string };

const port = parentPort;
if (!port) throw new Error("body-worker.ts runs as a worker thread");

/**
 * A body is decoded as its chunks arrive, so the thread holds its text once instead of the chunks, their
 * concatenation and the text at the same time (a 25 MB body took some 25 MB more at its peak).
 */
interface Body {
  decoder: InstanceType<typeof TextDecoder>;
  text: string[];
  /** Not UTF-8: nothing more is decoded, and the parse answers as parsePayload does. */
  notUtf8: boolean;
}

const bodies = new Map<number, Body>();

const newBody = (): Body => ({ decoder: new TextDecoder("utf-8", { fatal: true }), text: [], notUtf8: false });

function take(body: Body, decode: () => string): void {
  if (body.notUtf8) return;
  try {
    body.text.push(decode());
  } catch {
    body.notUtf8 = true;
    body.text.length = 0;
  }
}

function parse(id: number, name: string): FromBodyWorker {
  const body = bodies.get(id) ?? newBody();
  bodies.delete(id);
  take(body, () => body.decoder.decode());
  try {
    if (body.notUtf8) throw new MalformedDeliveryError(NOT_UTF8_JSON);
    const text = body.text.join("");
    body.text.length = 0;
    const payload = parsePayloadText(name, text);
    return { kind: "parsed", id, payload: projectPayload(name, payload) };
  } catch (err) {
    if (err instanceof MalformedDeliveryError) return { kind: "invalid", id, message: err.message };
    return { kind: "failed", id, message: err instanceof Error ? err.message : String(err) };
  }
}

port.on("message", (msg: ToBodyWorker) => {
  if (msg.kind === "chunk") {
    let body = bodies.get(msg.id);
    if (!body) bodies.set(msg.id, (body = newBody()));
    const { decoder } = body;
    take(body, () => decoder.decode(msg.chunk, { stream: true }));
  } else if (msg.kind === "drop") {
    bodies.delete(msg.id);
  } else {
    port.postMessage(parse(msg.id, msg.name));
  }
});
