/** Cluster membership, leader choice and the anti-entropy digest tree. */
export * from "./membership.js";
export * from "./heartbeats.js";
export * from "./hashing.js";
export * from "./digest-tree.js";
export * from "./digest-round.js";
