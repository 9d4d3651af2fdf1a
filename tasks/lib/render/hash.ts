// Sizes of nginx's static hashes (map_hash_*, server_names_hash_*) computed from the names
// that go in them, so a site with thousands of hostnames still passes `nginx -t`.
//
// nginx (ngx_hash_init) stores each name in a bucket as a pointer plus the name padded to
// pointer alignment (+2 bytes), and a bucket ends with a pointer; a hash fails outright when
// one name does not fit a bucket, and needs a table (max_size) large enough that no bucket
// overflows. We size buckets for several names each and the table well above the name count.

const POINTER = 8;
const CACHE_LINE = 64;

export interface HashSizes {
  bucketSize: number;
  maxSize: number;
}

function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

export function elementSize(name: string): number {
  const len = Buffer.byteLength(name);
  return POINTER + Math.ceil((len + 2) / POINTER) * POINTER;
}

export function hashSizes(names: readonly string[]): HashSizes {
  const longest = names.reduce((max, name) => Math.max(max, elementSize(name)), 0);
  return {
    // Room for four of the longest names: short chains even when hash values collide.
    bucketSize: Math.max(CACHE_LINE, nextPowerOfTwo(4 * longest + POINTER)),
    // Four times the names: nginx then finds a table size with no overflowing bucket quickly.
    maxSize: Math.max(1024, nextPowerOfTwo(names.length) * 4),
  };
}
