#!/usr/bin/env node
/** crdt-node: parse flags, env and config file, start the daemon, stop cleanly on SIGINT/SIGTERM. */
import { ConfigError, tuneGarbageCollection } from "crdt-replicator";
import { deprecatedVariables, parseConfig } from "../src/config.js";
import { startDaemon } from "../src/daemon.js";
import { packageVersion } from "../src/version.js";

async function main(): Promise<void> {
  for (const line of deprecatedVariables(process.env)) console.error(line);
  let parsed;
  try {
    parsed = parseConfig(process.argv.slice(2), process.env);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    console.error(`crdt-node: ${e.message}`);
    process.exit(2);
  }
  if ("help" in parsed) {
    process.stdout.write(parsed.help);
    return;
  }
  if ("version" in parsed) {
    console.log(packageVersion());
    return;
  }
  const c = parsed.config;
  // A daemon may hold millions of keys: on Node 24 its short-lived Buffers would otherwise mark the whole heap.
  const gcTuned = tuneGarbageCollection();
  const daemon = await startDaemon(c);
  const log = daemon.logger;
  if (gcTuned) log.info({ v8: process.versions.v8 }, "V8 counts Buffers in its global heap limit (nodejs/node#61967)");
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) process.exit(130); // a second signal: do not wait any longer
    stopping = true;
    log.info({ signal }, `${signal}: leaving the cluster`);
    daemon.close().then(
      () => process.exit(0),
      (e: unknown) => {
        log.error({ err: e }, "error while closing");
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
  log.info({ url: daemon.url, readOnly: c.readOnly, metrics: c.telemetry.exporters }, `listening on ${daemon.url} (dc ${c.dataCenter}${c.readOnly ? ", read-only" : ""})`);
  try {
    await daemon.started;
  } catch (e) {
    if (stopping) return; // a signal came first: stop() exits
    log.fatal({ err: e }, `cannot start: ${e instanceof Error ? e.message : String(e)}`);
    await daemon.close().catch(() => undefined);
    process.exit(1);
  }
  log.info({ url: daemon.url }, `ready: ${daemon.url}/ (dashboard)`);
}

main().catch((e: unknown) => {
  console.error("crdt-node: fatal:", e);
  process.exit(1);
});
