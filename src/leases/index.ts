// Leases with a TTL in Redis (a ZSET of holders scored by expiry): slots that a dead holder gives back by itself. The builder pool's holds and the fair share's slots are both these; it imports nothing of the app.
export { LEASE_LUA, LeaseSet, liveLeases } from "./lease-set.js";
export type { LeaseHolder } from "./lease-set.js";
