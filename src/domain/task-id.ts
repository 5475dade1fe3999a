import { randomFillSync } from 'node:crypto';

/**
 * Task ids are UUIDs version 7 (RFC 9562): 48 bits of Unix milliseconds, then random bits. The time in the id is
 * what places a task in its partition of taskd.tasks (migration 0011, `taskd.task_id_time`): a read by id goes
 * to one partition without a lookup, and ids made later sort later. Ids made before 0011 are version 4; they
 * read as having no time and live in the partition of older tasks.
 *
 * Random bytes are drawn 4 KiB at a time: one `randomFillSync` per 256 ids instead of one per id.
 *
 * With a shard set (`TASK_ID_SHARD`, see `setTaskIdShard`), the top 8 of the 12 bits after the version (RFC
 * 9562's `rand_a`) are the shard instead of random: the two hex digits after the `7`. A router then sends a read
 * by id to its shard's database with no lookup (docs/scaling.md). Such an id keeps 70 random bits, 4 in `rand_a`
 * and 62 in `rand_b`, besides its millisecond.
 */
const POOL_IDS = 256;
const pool = Buffer.alloc(16 * POOL_IDS);
let next = POOL_IDS;

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** The shard ids of this process carry in `rand_a`, or undefined: every bit after the version is random. */
let shard: number | undefined;

/**
 * Sets the shard that every id made from now on carries (0–255), or undefined for none. Set once at start-up from
 * `TASK_ID_SHARD`, before the first id is made.
 */
export function setTaskIdShard(n: number | undefined): void {
  if (n !== undefined && !(Number.isInteger(n) && n >= 0 && n <= 255)) {
    throw new RangeError(`a task id shard is an integer from 0 to 255, got ${n}`);
  }
  shard = n;
}

/**
 * A new task id whose time is `nowMs` (this process's clock unless told). A host whose clock is off puts its tasks
 * in the partition of its own time: harmless, since partitions are made a range behind and ahead of the database's
 * clock, and an id with no partition of its time lands in the default one.
 */
export function newTaskId(nowMs: number = Date.now()): string {
  if (next === POOL_IDS) {
    randomFillSync(pool);
    next = 0;
  }
  const o = 16 * next++;
  const ms = Math.max(0, Math.floor(nowMs));
  // 48 bits of milliseconds, big-endian: the high 16 bits and the low 32 bits apart (no 64-bit integers needed).
  const high = Math.floor(ms / 0x1_0000_0000) & 0xffff;
  const low = ms >>> 0;
  pool[o] = high >>> 8;
  pool[o + 1] = high & 0xff;
  pool[o + 2] = low >>> 24;
  pool[o + 3] = (low >>> 16) & 0xff;
  pool[o + 4] = (low >>> 8) & 0xff;
  pool[o + 5] = low & 0xff;
  if (shard === undefined) {
    pool[o + 6] = 0x70 | (pool[o + 6]! & 0x0f); // version 7
  } else {
    pool[o + 6] = 0x70 | (shard >>> 4); // version 7, then the shard's high nibble
    pool[o + 7] = ((shard & 0x0f) << 4) | (pool[o + 7]! & 0x0f); // its low nibble, then 4 random bits
  }
  pool[o + 8] = 0x80 | (pool[o + 8]! & 0x3f); // variant 10
  let s = '';
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) s += '-';
    s += HEX[pool[o + i]!];
  }
  return s;
}

/** The time in a version 7 id, in Unix milliseconds; undefined for any other id (those made before 0011). */
export function taskIdTime(id: string): number | undefined {
  if (id.length !== 36 || id[14] !== '7') return undefined;
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}

/**
 * The 8 shard bits of a version 7 id (the two hex digits after the `7`); undefined for any other id. These are the
 * bits themselves: an id made without a shard setting yields random ones, so a router must not take them for a
 * shard on their own. Its rule (docs/scaling.md) is that ids made before sharding began, and version 4 ids, belong
 * to shard 0; it reads the bits only of ids made since.
 */
export function taskIdShard(id: string): number | undefined {
  if (id.length !== 36 || id[14] !== '7') return undefined;
  const n = Number(`0x${id.slice(15, 17)}`);
  return Number.isNaN(n) ? undefined : n;
}
