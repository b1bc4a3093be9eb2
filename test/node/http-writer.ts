/**
 * Writes from a process of its own (so sending them does not slow the process that measures the
 * daemon): `http-writer.ts <node url> <writes> <keys> <concurrency> <per second>` increments
 * gcounters load-0..load-<keys-1> round-robin, write i due at i/<per second> s after the start and
 * at most <concurrency> in flight, then prints "done <json>" (or "failed <why>").
 */
import { Agent, request } from "node:http";

const [url, writesArg, keysArg, concurrencyArg, rateArg] = process.argv.slice(2);
const writes = Number(writesArg);
const keys = Number(keysArg);
const msPerWrite = 1000 / Number(rateArg);
const agent = new Agent({ keepAlive: true });
const body = '{"type":"gcounter","op":"increment","by":1}';

function post(key: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/v1/keys/${key}`, { method: "POST", agent, headers: { "content-type": "application/json" } }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode!));
    });
    req.on("error", reject);
    req.end(body);
  });
}

const started = performance.now();
let next = 0;
try {
  await Promise.all(
    Array.from({ length: Number(concurrencyArg) }, async () => {
      for (let i = next++; i < writes; i = next++) {
        const due = started + i * msPerWrite - performance.now();
        if (due > 0) await new Promise((resolve) => setTimeout(resolve, due));
        const status = await post(`load-${i % keys}`);
        if (status !== 200) throw new Error(`write ${i}: HTTP ${status}`);
      }
    }),
  );
  process.stdout.write(`done ${JSON.stringify({ ms: Math.round(performance.now() - started) })}\n`);
  process.exit(0);
} catch (e) {
  process.stdout.write(`failed ${(e as Error).message}\n`);
  process.exit(1);
}
