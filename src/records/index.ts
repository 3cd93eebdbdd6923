// Small JSON records in Redis with a TTL, under the app's keys: each kind names its key and checks what it reads back.
export { isObject, JsonRecordStore } from "./json-record-store.js";
export type { JsonRecordKind } from "./json-record-store.js";
