/**
 * A crowd of SSE watchers in a process of its own (so reading them does not slow the process that
 * measures the daemon): `sse-crowd.ts <watch url> <count> <marker>` opens <count> GET streams,
 * prints "connected" once all answered 200, then "done <json>" once every stream has carried
 * <marker> (or closed). Plain sockets, read as bytes and discarded: only the status line and the
 * marker are looked for, so the crowd costs little CPU beside the daemon it loads.
 */
import { connect } from "node:net";

const [url, countArg, markerArg] = process.argv.slice(2);
const count = Number(countArg);
const marker = Buffer.from(markerArg!);
const { hostname, port, pathname, search } = new URL(url!);

let connected = 0;
let finished = 0;
let closedEarly = 0;
let bytes = 0;

function fail(why: string): never {
  process.stdout.write(`failed ${why}\n`);
  process.exit(1);
}

function watch(): void {
  const socket = connect(Number(port), hostname);
  socket.write(`GET ${pathname}${search} HTTP/1.1\r\nHost: ${hostname}:${port}\r\n\r\n`);
  let answered = false;
  let seen = false;
  let tail: Buffer = Buffer.alloc(0);
  const finish = (early: boolean): void => {
    if (seen) return;
    seen = true;
    if (early) closedEarly++;
    if (++finished === count) {
      process.stdout.write(`done ${JSON.stringify({ bytes, closedEarly })}\n`);
      process.exit(0);
    }
  };
  socket.on("data", (chunk: Buffer) => {
    bytes += chunk.length;
    if (!answered) {
      answered = true;
      const status = chunk.subarray(0, 12).toString("latin1");
      if (status !== "HTTP/1.1 200") fail(status);
      if (++connected === count) process.stdout.write("connected\n");
    }
    if (seen) return;
    const window = tail.length === 0 ? chunk : Buffer.concat([tail, chunk]);
    if (window.includes(marker)) finish(false);
    else tail = window.subarray(Math.max(0, window.length - marker.length));
  });
  socket.on("error", (e) => fail(e.message));
  socket.on("close", () => finish(true));
}

for (let i = 0; i < count; i++) watch();
