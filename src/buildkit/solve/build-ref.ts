import { randomInt } from "node:crypto";

const ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz";

/** A unique solve `Ref` in the official client's shape: 25 random base36 characters. */
export function newBuildRef(): string {
  let ref = "";
  for (let i = 0; i < 25; i++) ref += ALPHABET[randomInt(ALPHABET.length)];
  return ref;
}
