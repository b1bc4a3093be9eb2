/**
 * One line to a worker process's stdout, written before this returns. `process.stdout.write` on a
 * pipe is synchronous only while the pipe has room: once the reader lags, lines queue inside the
 * process, and a SIGKILL or `process.exit` drops them. A worker whose lines are the test's record of
 * what it did (an ack, an enqueue) must not lose any, so it blocks here until the kernel has them.
 */
import { writeSync } from "node:fs";

const pause = new Int32Array(new SharedArrayBuffer(4));

export function writeLineSync(line: string, fd = 1): void {
  const bytes = Buffer.from(`${line}\n`);
  let written = 0;
  while (written < bytes.length) {
    try {
      written += writeSync(fd, bytes, written);
    } catch (error) {
      // A non-blocking pipe that is full: wait a millisecond for the reader, then write the rest.
      if ((error as NodeJS.ErrnoException).code !== "EAGAIN") throw error;
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}
