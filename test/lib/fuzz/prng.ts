// A small seeded PRNG (splitmix32) for the fuzzer: the same seed gives the same lower tree and op
// script on every machine and every run. Owns nothing else.

export class Rng {
  private s: number;

  constructor(seed: number) {
    this.s = seed >>> 0;
    // A few rounds so that neighbouring seeds start far apart.
    for (let i = 0; i < 4; i++) this.u32();
  }

  /** A uniform 32-bit unsigned integer (splitmix32). */
  u32(): number {
    this.s = (this.s + 0x9e3779b9) >>> 0;
    let z = this.s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return n <= 1 ? 0 : this.u32() % n;
  }

  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.u32() / 4294967296 < p;
  }

  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)];
  }

  /** Picks a key of `table` with probability proportional to its weight. */
  weighted<K extends string>(table: Readonly<Record<K, number>>): K {
    const keys = Object.keys(table) as K[];
    let total = 0;
    for (const k of keys) total += table[k];
    let x = this.u32() % total;
    for (const k of keys) {
      if (x < table[k]) return k;
      x -= table[k];
    }
    return keys[keys.length - 1];
  }
}
