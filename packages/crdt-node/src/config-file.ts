/**
 * crdt-node's `--config <file>`: a JSON or YAML object whose keys are the settings' names
 * (`nodeId`, `tombstoneTtlMs`, …, listed in `--help`), read into the same text form flags and
 * variables have, so one set of checks (config.ts) serves all three. Every problem is a
 * ConfigError naming the file, the key and what to do.
 */
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { ConfigError } from "crdt-replicator";

/** A setting as the file gave it: text like a flag's, or a list (repeatable and comma-separated settings). */
export type FileValue = string | string[];

/**
 * The settings `path` holds, by key. `known`: the keys a file may use; another key is refused (a
 * typo would otherwise be silently ignored).
 */
export function readConfigFile(path: string, known: readonly string[]): Map<string, FileValue> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError(`--config ${path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? String(e)}); give a readable JSON or YAML file`);
  }
  let doc: unknown;
  try {
    doc = /\.ya?ml$/i.test(path) ? parseYaml(text) : JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`--config ${path} is not valid ${/\.ya?ml$/i.test(path) ? "YAML" : "JSON (name a .yaml or .yml file for YAML)"}: ${(e as Error).message.split("\n")[0]}`);
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw new ConfigError(`--config ${path} must hold an object of settings, e.g. {"nodeId": "east-1", "dc": "east"}`);
  }
  const out = new Map<string, FileValue>();
  for (const [key, value] of Object.entries(doc)) {
    if (!known.includes(key)) throw new ConfigError(`--config ${path}: unknown key "${key}"; the keys are: ${known.join(", ")}`);
    out.set(key, asSetting(value, `--config ${path}: "${key}"`));
  }
  return out;
}

function asSetting(v: unknown, where: string): FileValue {
  if (typeof v === "string") return v;
  if (typeof v === "boolean" || (typeof v === "number" && Number.isFinite(v))) return String(v);
  if (Array.isArray(v) && v.every((x) => typeof x === "string")) return v;
  throw new ConfigError(`${where} must be a string, a number, true/false or a list of strings; got ${JSON.stringify(v)}`);
}
