import { createHmac, generateKeyPairSync, randomUUID } from "node:crypto";
import examples from "@octokit/webhooks-examples";

/**
 * Webhook helpers for tests: real example payloads (from @octokit/webhooks-examples) adapted to the test's
 * repository and installation, signed like GitHub signs them, sent over HTTP.
 */

export type WebhookName = "push" | "pull_request" | "check_run" | "check_suite" | "issue_comment" | "merge_group";

export interface TestRepository {
  installationId: number;
  repoId: number;
  owner: string;
  name: string;
  private?: boolean;
  defaultBranch?: string;
}

export const TEST_REPOSITORY: TestRepository = {
  installationId: 4242,
  repoId: 777001,
  owner: "acme",
  name: "widgets",
  private: true,
  defaultBranch: "main",
};

type Json = Record<string, unknown>;

/**
 * A deep copy of an example payload. `pick` chooses among the examples of that event/action
 * (e.g. one with an installation); the first match wins.
 */
export function examplePayload(name: WebhookName, action?: string, pick: (p: Json) => boolean = () => true): Json {
  const def = (examples as unknown as Array<{ name: string; examples: Json[] }>).find((d) => d.name === name);
  const found = def?.examples.find((p) => (action === undefined || p.action === action) && pick(p));
  if (!found) throw new Error(`no example payload for ${name}${action ? `.${action}` : ""}`);
  return structuredClone(found);
}

/** Points every repository reference of a payload at `repo`, and sets the installation. */
export function adaptPayload(payload: Json, repo: TestRepository = TEST_REPOSITORY): Json {
  const fullName = `${repo.owner}/${repo.name}`;
  const original = payload.repository as Json | undefined;
  const originalId = original?.id;
  const rewriteRepo = (r: Json | null | undefined): void => {
    if (!r || r.id !== originalId) return;
    r.id = repo.repoId;
    r.name = repo.name;
    if ("full_name" in r) r.full_name = fullName;
    if ("url" in r) r.url = `https://api.github.com/repos/${fullName}`;
    if ("clone_url" in r) r.clone_url = `https://github.com/${fullName}.git`;
    if ("private" in r) r.private = repo.private ?? false;
    if (r.owner && typeof r.owner === "object") {
      (r.owner as Json).login = repo.owner;
      (r.owner as Json).name = repo.owner;
    }
  };
  rewriteRepo(original);
  if (original) {
    original.default_branch = repo.defaultBranch ?? "main";
    if ("master_branch" in original) original.master_branch = repo.defaultBranch ?? "main";
  }
  payload.installation = { id: repo.installationId, node_id: "test-installation" };
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(visit);
    else if (v && typeof v === "object") {
      const o = v as Json;
      if (o !== original && o.id === originalId && typeof o.name === "string") rewriteRepo(o);
      for (const child of Object.values(o)) visit(child);
    }
  };
  visit(payload);
  return payload;
}

export function signPayload(secret: string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

/** A throwaway RSA key in the PKCS#1 PEM form GitHub hands out for Apps. */
export function generateAppPrivateKey(): string {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return privateKey.export({ type: "pkcs1", format: "pem" }).toString();
}

export interface SendWebhookOptions {
  name: WebhookName | string;
  payload: unknown;
  secret: string;
  deliveryId?: string;
  /** Overrides the computed signature (e.g. to test a bad one). */
  signature?: string;
  timeoutMs?: number;
}

export interface WebhookResponse {
  status: number;
  body: string;
  deliveryId: string;
}

/** POSTs a signed delivery the way GitHub does. */
export async function sendWebhook(url: string, opts: SendWebhookOptions): Promise<WebhookResponse> {
  const body = JSON.stringify(opts.payload);
  const deliveryId = opts.deliveryId ?? randomUUID();
  const res = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "user-agent": "GitHub-Hookshot/test",
      "x-github-event": opts.name,
      "x-github-delivery": deliveryId,
      "x-hub-signature-256": opts.signature ?? signPayload(opts.secret, body),
    },
    body,
    signal: AbortSignal.timeout(opts.timeoutMs ?? 15_000),
  });
  return { status: res.status, body: await res.text(), deliveryId };
}
