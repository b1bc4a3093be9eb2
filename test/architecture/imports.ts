/**
 * The import graph of src/, read from the source (TypeScript's own pre-processor finds every
 * import, re-export and dynamic import, type-only ones included), and the checks on it: which
 * layer may import which (the table in ARCHITECTURE.md) and where the graph has cycles.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SRC = join(ROOT, "src");

/** One import: both ends are paths relative to src/ with `/` separators, e.g. "xdc/flusher.ts". */
export interface Edge {
  from: string;
  to: string;
}

/** Every import of the .ts files under `dir`: `from` relative to `dir`, `spec` as written. */
export function importsUnder(dir: string): { from: string; spec: string }[] {
  const files = readdirSync(dir, { recursive: true })
    .map((f) => String(f).split("\\").join("/"))
    .filter((f) => f.endsWith(".ts") && !f.split("/").includes("node_modules") && !f.startsWith("dist/"));
  return files.flatMap((from) =>
    ts.preProcessFile(readFileSync(join(dir, from), "utf8"), true, true).importedFiles.map(({ fileName }) => ({ from, spec: fileName })),
  );
}

/** Every relative import between the .ts files of src/. */
export function sourceImports(): Edge[] {
  return importsUnder(SRC)
    .filter(({ spec }) => spec.startsWith(".")) // not a package
    .map(({ from, spec }) => ({ from, to: normalize(join(dirname(from), spec)).split("\\").join("/").replace(/\.js$/, ".ts") }));
}

/** The layer of a file: its folder under src/, or the file itself at the root ("index.ts"). */
export function layerOf(file: string): string {
  const slash = file.indexOf("/");
  return slash === -1 ? file : file.slice(0, slash);
}

/** The "layer | may import" table between the layers markers of ARCHITECTURE.md. */
export function allowedDirections(markdown = readFileSync(join(ROOT, "ARCHITECTURE.md"), "utf8")): Map<string, Set<string>> {
  const begin = markdown.indexOf("<!-- layers:begin -->");
  const end = markdown.indexOf("<!-- layers:end -->");
  if (begin === -1 || end < begin) throw new Error("ARCHITECTURE.md lost its <!-- layers:begin/end --> markers");
  const allowed = new Map<string, Set<string>>();
  for (const line of markdown.slice(begin, end).split("\n")) {
    const cells = line.split("|").map((c) => c.trim());
    if (cells.length < 4 || cells[1] === "layer" || cells[1]!.startsWith("---")) continue;
    const targets = cells[2]!.split(",").map((t) => t.trim()).filter((t) => t !== "");
    allowed.set(cells[1]!, new Set(targets));
  }
  return allowed;
}

/** Imports the table does not allow (a file entry such as "transport/nats.ts" allows that file only). */
export function violations(edges: readonly Edge[], allowed: Map<string, Set<string>>): string[] {
  const wrong: string[] = [];
  for (const { from, to } of edges) {
    const source = layerOf(from);
    const target = layerOf(to);
    if (source === target) continue;
    const may = allowed.get(source);
    if (may === undefined) wrong.push(`${from}: its layer "${source}" is not in the table`);
    else if (!may.has(target) && !may.has(to)) wrong.push(`${from} -> ${to} ("${source}" may not import "${target}")`);
  }
  return wrong;
}

/** The graph of `edges` with both ends mapped by `node` (self-edges dropped). */
export function graphOf(edges: readonly Edge[], node: (file: string) => string): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const e of edges) {
    const [a, b] = [node(e.from), node(e.to)];
    if (!graph.has(a)) graph.set(a, new Set());
    if (!graph.has(b)) graph.set(b, new Set());
    if (a !== b) graph.get(a)!.add(b);
  }
  return graph;
}

/** Every cycle of `graph` as the sorted members of one strongly connected component (Tarjan). */
export function cycles(graph: Map<string, Set<string>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1) found.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}
