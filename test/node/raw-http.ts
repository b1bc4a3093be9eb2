/**
 * Requests fetch cannot make: any `Host` header, raw body bytes (invalid UTF-8), HEAD that must
 * end. Through node:http, with a deadline.
 */
import { request } from "node:http";

export interface RawReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  body: any;
}

export function raw(method: string, url: string, headers: Record<string, string> = {}, body?: string | Buffer, timeoutMs = 15_000): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", reject);
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
        resolve({ status: res.statusCode!, headers: res.headers, text, body: parsed });
      });
    });
    req.on("timeout", () => req.destroy(new Error(`${method} ${url}: no complete answer within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(body);
  });
}
