/**
 * The package's name and version, for the meter's instrumentation scope. A constant rather than a
 * read of package.json at run time (whose path differs between src/ and dist/); a test checks it
 * against package.json, so a version bump that forgets it fails `npm test`.
 */
export const PACKAGE_NAME = "crdt-replicator";
export const PACKAGE_VERSION = "0.1.0";
