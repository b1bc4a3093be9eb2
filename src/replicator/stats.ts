/** The replicator's counters live in the extension contract (side concerns count into them too). */
export * from "../extension/stats.js";
