/**
 * A started replicator has every message type's codec generated (prepareCodecs): protobufjs would
 * otherwise generate each on first use, stalling a node's first anti-entropy round for milliseconds.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import protobuf from "protobufjs/light.js";
import { MemoryNetwork, Replicator } from "../../src/index.js";
import { messageType } from "../../src/wire/pb.js";

/** Every message type of the schema, nested ones included. */
function allTypes(): protobuf.Type[] {
  const out: protobuf.Type[] = [];
  const visit = (ns: protobuf.NamespaceBase): void => {
    for (const n of ns.nestedArray) {
      if (n instanceof protobuf.Type) out.push(n);
      if (n instanceof protobuf.Namespace) visit(n);
    }
  };
  visit(messageType("DeltaEnvelope").root);
  return out;
}

/** protobufjs installs the generated functions on the type itself; until then it has the prototype's `*_setup` stubs. */
const generated = (t: protobuf.Type): boolean => Object.hasOwn(t, "encode") && Object.hasOwn(t, "decode");

test("Replicator.start generates every message type's encoder and decoder", async () => {
  const types = allTypes();
  assert.ok(types.length > 20, `the schema has its message types (found ${types.length})`);
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
