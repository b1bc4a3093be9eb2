/**
 * The dashboard in headless Chromium (Debian's /usr/bin/chromium driven by playwright-core): it
 * shows the members, and a counter incremented through the API of ANOTHER node changes on screen.
 * Saves test-artifacts/dashboard.png and test-artifacts/dashboard-readme.png (copy the latter to
 * docs/dashboard.png to refresh the README's picture; tests never write into the source tree).
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { chromium, type Browser } from "playwright-core";
import { parseConfig } from "../../packages/crdt-node/src/config.js";
import { startDaemon, type Daemon } from "../../packages/crdt-node/src/daemon.js";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { http, ROOT } from "./helpers.js";

/** The page functions below run in the browser, where `document` exists. */
declare const document: { querySelector(s: string): { textContent: string | null } | null; querySelectorAll(s: string): { length: number }; getElementById(id: string): { textContent: string | null } | null };

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

async function node(id: string, nats: string): Promise<Daemon> {
  const r = parseConfig(["--node-id", id, "--dc", "east", "--nats", nats, "--http", "127.0.0.1:0"], {});
  if (!("config" in r)) throw new Error("help");
  const d = await startDaemon(r.config, { log: () => undefined });
  await d.started;
  return d;
}

describe("dashboard in headless Chromium", () => {
  let nats: NatsServer;
  const nodes: Daemon[] = [];
  let browser: Browser | undefined;
  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium (or set CHROMIUM_PATH)`);
    nats = await startNatsServer();
    for (const id of ["east-1", "east-2", "east-3"]) nodes.push(await node(id, nats.url));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
  });
  after(async () => {
    await browser?.close();
    await Promise.allSettled(nodes.map((n) => n.close()));
    await nats?.stop();
  });

  test("shows the members; a counter incremented on another node changes on screen", async () => {
    const [a, b, c] = nodes as [Daemon, Daemon, Daemon];
    const write = async (d: Daemon, key: string, body: unknown): Promise<void> => {
      const r = await http("POST", `${d.url}/v1/keys/${key}`, body);
      assert.equal(r.status, 200, r.text);
    };
    await write(b, "page-views", { type: "gcounter", op: "increment", by: 41 });
    await write(c, "online-users", { type: "orset", op: "add", value: "alice" });
    await write(b, "online-users", { type: "orset", op: "add", value: "bob" });
    await write(c, "status", { type: "lwwregister", op: "set", value: "all systems go" });
    await write(b, "votes", { type: "pncountermap", op: "increment", field: "tabs", by: 12 });
    await write(c, "votes", { type: "pncountermap", op: "increment", field: "spaces", by: 9 });
    await write(b, "feature-x", { type: "flag", op: "enable" });

    const page = await browser!.newPage({ viewport: { width: 1400, height: 820 } });
    try {
      await page.goto(`${a.url}/`);
      for (const id of ["east-1", "east-2", "east-3"]) {
        await page.locator(`#members [data-node="${id}"]`).waitFor({ timeout: 10_000 });
      }
      // A member shows before the DC has agreed on its leader: wait for the badge, don't race it.
      await page.locator('#members [data-node="east-1"] .badge.lead').waitFor({ timeout: 10_000 });
      assert.match(await page.locator('#members [data-node="east-1"]').innerText(), /leader/);
      const cell = page.locator('#keys tr[data-key="page-views"] td.value');
      await cell.waitFor({ timeout: 10_000 });
      await page.waitForFunction(() => document.querySelector('#keys tr[data-key="page-views"] td.value')?.textContent === "41", undefined, { timeout: 10_000 });

      await write(b, "page-views", { type: "gcounter", op: "increment", by: 1 }); // on east-2; the page is east-1's
      await page.waitForFunction(() => document.querySelector('#keys tr[data-key="page-views"] td.value')?.textContent === "42", undefined, { timeout: 10_000 });
      const feed = await page.locator('#feed li[data-key="page-views"]').first().innerText();
      assert.match(feed, /east-2/, "the feed names the node the change came from");
      await page.waitForFunction(() => /ms/.test(document.getElementById("stats")?.textContent ?? ""), undefined, { timeout: 10_000 });

      mkdirSync(join(ROOT, "test-artifacts"), { recursive: true });
      await page.screenshot({ path: join(ROOT, "test-artifacts", "dashboard.png") });

      // The README's picture: a little more traffic, so the feed has some history.
      await write(c, "online-users", { type: "orset", op: "add", value: "carol" });
      await write(b, "votes", { type: "pncountermap", op: "increment", field: "tabs", by: 1 });
      await write(a, "status", { type: "lwwregister", op: "set", value: "deploying v2" });
      await write(c, "page-views", { type: "gcounter", op: "increment", by: 3 });
      await write(b, "online-users", { type: "orset", op: "remove", value: "bob" });
      await page.waitForFunction(() => document.querySelector('#keys tr[data-key="page-views"] td.value')?.textContent === "45", undefined, { timeout: 10_000 });
      // 42's entry and one per key written since: the feed coalesces a key's changes that reach this
      // node within one flush (the two online-users changes may, on a loaded machine), so 5, not 6.
      await page.waitForFunction(() => document.querySelectorAll("#feed li[data-key]").length >= 5, undefined, { timeout: 10_000 });
      await page.waitForTimeout(1300); // let the change highlight fade
      await page.setViewportSize({ width: 1400, height: 640 });
      await page.screenshot({ path: join(ROOT, "test-artifacts", "dashboard-readme.png") });
    } finally {
      await page.close();
    }
  });
});
