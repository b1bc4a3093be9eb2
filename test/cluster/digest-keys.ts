/** Key pools for digest tests: random keys rarely share a leaf, so collect some that do. */
import { LEAVES_PER_GROUP, leafOf } from "../../src/cluster/digest-tree.js";

function collidingKeys(): string[] {
  const byLeaf = new Map<number, string[]>();
  const out: string[] = [];
  for (let i = 0; out.length < 40 && i < 2_000_000; i++) {
    const key = `k${i}`;
    const leaf = leafOf(key);
    const keys = byLeaf.get(leaf) ?? [];
    keys.push(key);
    byLeaf.set(leaf, keys);
    if (keys.length === 4) out.push(...keys); // 10 leaves holding 4 keys each
  }
  return out;
}

/** Keys that share leaves (and hence groups) with each other, plus plain ones and a non-ASCII one. */
export const KEY_POOL: readonly string[] = [
  ...collidingKeys(),
  ...Array.from({ length: 40 }, (_, i) => `user:${i}`),
  "ключ",
  "鍵🔑",
  "",
];

/** Leaf-level and group-level coordinates, for assertions. */
export function groupsOf(keys: Iterable<string>): Set<number> {
  return new Set([...keys].map((k) => Math.floor(leafOf(k) / LEAVES_PER_GROUP)));
}
