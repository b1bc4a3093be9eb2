/**
 * The crdt-node daemon package's entry: the daemon, the HTTP API as a fastify plugin, its route
 * schemas (the OpenAPI document is generated from them) and a typed client.
 */
export { startDaemon, type Daemon, type DaemonOptions } from "./daemon.js";
export { parseConfig, type NodeConfig } from "./config.js";
export { crdtApi, type CrdtApiOptions } from "./http-api.js";
export { buildServer } from "./http-server.js";
export * as schemas from "./schemas.js";
export * from "./client.js";
