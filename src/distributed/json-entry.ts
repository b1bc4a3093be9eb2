/** Entries of the primitives' KV buckets are untrusted JSON: parsed within a size bound, never thrown on. */
const decoder = new TextDecoder("utf-8", { fatal: true });

/** The JSON object in `bytes` (1 to `maxBytes` bytes of UTF-8), or undefined when they hold none. */
export function parseEntryObject(bytes: Uint8Array, maxBytes: number): Record<string, unknown> | undefined {
  if (bytes.length === 0 || bytes.length > maxBytes) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(decoder.decode(bytes));
  } catch {
    return undefined;
  }
  return typeof raw === "object" && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>) : undefined;
}
