/** Every error thrown on purpose is a CrdtReplicatorError (issue 9): the exported classes, and a scan of src/. */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import * as lib from "../src/index.js";
import { RequestFailedError } from "../src/transport/types.js";

/** The library's one deliberate subclass of the built-in Error: every other error class derives from it. */
const BASE_DEFINITION = /export class CrdtReplicatorError extends Error\b/;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith(".ts"))
    .map((f) => join(dir, f));
}

describe("one error hierarchy", () => {
  it("every exported error class extends CrdtReplicatorError and is named after its class", () => {
    const errorClasses = Object.entries(lib).filter(
      ([, v]) => typeof v === "function" && v.prototype instanceof Error,
    ) as [string, new (message: string, ...rest: never[]) => Error][];
    const names = errorClasses.map(([name]) => name);
    for (const expected of ["ProtocolError", "RequestFailedError", "BatchRejectedError", "ConfigError", "SettleTimeoutError"]) {
      assert.ok(names.includes(expected), `${expected} is exported from the package root`);
    }
    for (const [name, ErrorClass] of errorClasses) {
      const error = new ErrorClass("m");
      assert.ok(error instanceof lib.CrdtReplicatorError, `${name} extends CrdtReplicatorError`);
      assert.equal(error.name, name, `${name}'s name is its class name`);
    }
    assert.equal(RequestFailedError, lib.RequestFailedError, "transport/types re-exports the same class");
  });

  it("src throws no plain Error and declares no other subclass of Error", () => {
    const offenders: string[] = [];
    for (const file of sourceFiles("src")) {
      readFileSync(file, "utf8")
        .split("\n")
        .forEach((line, i) => {
          const plain = /\bnew Error\(/.test(line);
          const subclass = /\bextends Error\b/.test(line) && !(file === join("src", "errors.ts") && BASE_DEFINITION.test(line));
          if (plain || subclass) offenders.push(`${file}:${i + 1}: ${line.trim()}`);
        });
    }
    assert.deepEqual(offenders, [], "use a class from src/errors.ts (ProtocolError for a peer's bad answer)");
  });
});
