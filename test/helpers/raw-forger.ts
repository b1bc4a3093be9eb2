/**
 * A forger below the client library: a raw TCP NATS client subscribed to `subject` that answers
 * each request there with an empty message whose header no client would build (a header name with
 * a space), then with `then` (raw protocol text for the reply subject) if given.
 */
import net from "node:net";

export const BROKEN_HEADER = "NATS/1.0\r\nbad name: x\r\n\r\n";

/** Subscribed once this resolves; the socket is closed by the returned function. */
export async function rawForger(port: number, subject: string, then?: (reply: string) => string): Promise<() => void> {
  const raw = net.connect(port, "127.0.0.1");
  const request = new RegExp(`MSG ${subject.replaceAll(".", "\\.")} 1 (\\S+) \\d+\\r\\n`);
  let buffered = "";
  let subscribed: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (subscribed = resolve));
  raw.on("data", (chunk: Buffer) => {
    buffered += chunk.toString("latin1");
    // The server's INFO comes first; only the PONG after our SUB says the subscription is in place.
    if (buffered.includes("PONG\r\n")) {
      buffered = buffered.replace("PONG\r\n", "");
      subscribed();
    }
    const m = request.exec(buffered);
    if (m === null) return;
    buffered = "";
    // No payload: a client's request multiplexer then reads the headers for a "no responders" status.
    raw.write(`HPUB ${m[1]} ${BROKEN_HEADER.length} ${BROKEN_HEADER.length}\r\n${BROKEN_HEADER}\r\n`);
    if (then !== undefined) raw.write(then(m[1]!));
  });
  raw.write(`CONNECT {"verbose":false,"headers":true,"no_responders":true}\r\nSUB ${subject} 1\r\nPING\r\n`);
  await ready;
  return () => raw.destroy();
}
