/** crdt-node's version: that of the nearest package.json above this module (in src/ or dist/ alike). */
import { readFileSync } from "node:fs";

export function packageVersion(): string {
  for (let dir = new URL("./", import.meta.url); ; dir = new URL("../", dir)) {
    try {
      const pkg = JSON.parse(readFileSync(new URL("package.json", dir), "utf8")) as { version?: unknown };
      if (typeof pkg.version === "string") return pkg.version;
    } catch {
      // none here: look further up
    }
    if (dir.pathname === "/") return "unknown";
  }
}
