/**
 * A TCP proxy in front of one port, to break a single client's link without touching the server or
 * the other clients.
 *
 * - cut("reset") (default): destroys live connections and closes every new one at once — the client
 *   sees the disconnect immediately and keeps retrying.
 * - cut("blackhole"): connections stay open but no byte passes (held, as TCP would retransmit them);
 *   the client only notices through its own pings — the "silently dead link" case.
 * - restore(): traffic flows again (held bytes are released, waiting connections are linked).
 */
import { createConnection, createServer, type Socket } from "node:net";

export interface TcpProxy {
  readonly port: number;
  /** nats://127.0.0.1:<port> */
  readonly url: string;
  /** Client connections currently open through the proxy. */
  readonly connections: number;
  cut(mode?: "reset" | "blackhole"): void;
  restore(): void;
  close(): Promise<void>;
}

interface Link {
  client: Socket;
  upstream?: Socket;
  /** Bytes held while blackholed, per direction. */
  toUpstream: Buffer[];
  toClient: Buffer[];
}

/** `targetPort` may be a function, read at each connection (a target that had to move to another port). */
export async function startTcpProxy(targetPort: number | (() => number), targetHost = "127.0.0.1"): Promise<TcpProxy> {
  let mode: "open" | "reset" | "blackhole" = "open";
  const links = new Set<Link>();

  const drop = (l: Link): void => {
    links.delete(l);
    l.client.destroy();
    l.upstream?.destroy();
  };

  const send = (to: Socket | undefined, held: Buffer[], chunk: Buffer): void => {
    if (mode === "blackhole" || !to) held.push(chunk);
    else to.write(chunk);
  };

  const connectUpstream = (l: Link): void => {
    const up = createConnection({ host: targetHost, port: typeof targetPort === "number" ? targetPort : targetPort() });
    l.upstream = up;
    up.on("data", (chunk: Buffer) => send(l.client, l.toClient, chunk));
    up.on("error", () => drop(l));
    up.on("close", () => drop(l));
    for (const b of l.toUpstream.splice(0)) up.write(b);
  };

  const server = createServer((client) => {
    if (mode === "reset") {
      client.destroy();
      return;
    }
    const l: Link = { client, toUpstream: [], toClient: [] };
    links.add(l);
    client.on("data", (chunk: Buffer) => send(l.upstream, l.toUpstream, chunk));
    client.on("error", () => drop(l));
    client.on("close", () => drop(l));
    if (mode === "open") connectUpstream(l);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;

  return {
    port,
    url: `nats://127.0.0.1:${port}`,
    get connections() {
      return links.size;
    },
    cut(how = "reset") {
      mode = how;
      if (how === "reset") for (const l of [...links]) drop(l);
    },
    restore() {
      mode = "open";
      for (const l of [...links]) {
        if (!l.upstream) connectUpstream(l);
        else for (const b of l.toUpstream.splice(0)) l.upstream.write(b);
        for (const b of l.toClient.splice(0)) l.client.write(b);
      }
    },
    async close() {
      for (const l of [...links]) drop(l);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
