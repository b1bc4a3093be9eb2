/**
 * A started replicator has every message type's codec generated (prepareCodecs): protobufjs would
 * otherwise generate each on first use, stalling a node's first anti-entropy round for milliseconds.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import type { Type } from "protobufjs";
import { MemoryNetwork, Replicator } from "../../src/index.js";
import { messageTypes } from "../../src/wire/pb.js";

/** protobufjs installs the generated functions on the type itself; until then it has the prototype's `*_setup` stubs. */
const generated = (t: Type): boolean => Object.hasOwn(t, "encode") && Object.hasOwn(t, "decode");

test("Replicator.start generates every message type's encoder and decoder", async () => {
  const types = messageTypes();
  const declared = readFileSync(new URL("../../proto/crdt.proto", import.meta.url), "utf8").match(/^\s*message \w+ \{/gm)?.length ?? 0;
  assert.ok(declared > 20 && types.length === declared, `every message the .proto declares (${declared}), nested ones too (found ${types.length})`);
  const lazy = types.filter((t) => !generated(t)).map((t) => t.name);
  assert.ok(lazy.includes("DigestRequest") && lazy.includes("DigestReply"), `before any start, protocol types are still lazy: ${lazy.join(", ")}`);

  const net = new MemoryNetwork({ seed: 1 });
  const r = await Replicator.start({ nodeId: "a", transport: net.connect("a") });
  try {
    assert.deepEqual(types.filter((t) => !generated(t)).map((t) => t.name), []);
  } finally {
    await r.close();
  }
});
