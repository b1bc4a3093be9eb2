/**
 * crdt-node secrets, validated into config: how the node logs in to NATS (user/password, token,
 * nkey, creds file, TLS files, or credentials inside the NATS URLs), the message-authentication
 * keys of `ReplicatorOptions.security`, and the HTTPS files of its own API. The only I/O is reading
 * the files these settings name, so a bad path or a malformed key fails at start with a ConfigError
 * naming the flag and its variable. Secret values never appear in messages.
 */
import { readFileSync } from "node:fs";
import { nkeys } from "@nats-io/transport-node";
import { ConfigError, type NatsConnectionOptions } from "crdt-replicator";

/** How to log in to NATS: a subset of the transport's connection options. */
export type NatsLogin = Pick<NatsConnectionOptions, "user" | "pass" | "token" | "credsFile"> & {
  /** NKey user seed ("SU…"). */
  nkey?: string;
  /** PEM files: the CA that signed the server's certificate; a client certificate and key (mutual TLS). */
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
};

/** `ReplicatorOptions.security`, as the daemon configures it. */
export interface NodeSecurity {
  /** Shared secret of the cluster: every message carries a MAC made with it. */
  clusterKey?: string | Uint8Array;
  /** This node's signing key: an nkey seed. */
  nodeKey?: string;
  /** Node id → public nkey of every node whose signature is accepted. */
  trustedKeys?: Record<string, string>;
}

/** The settings read here, by the name config.ts gives them. */
export type SecretName =
  | "natsUser"
  | "natsPass"
  | "natsToken"
  | "natsNkey"
  | "natsCreds"
  | "natsTlsCa"
  | "natsTlsCert"
  | "natsTlsKey"
  | "clusterKey"
  | "clusterKeyFile"
  | "nodeKeyFile"
  | "trustedKeys"
  | "tlsCert"
  | "tlsKey";

/** A setting's value (flag, else variable) and how to name it in a message ("--flag / VAR"). */
export interface Settings {
  value(name: SecretName): string | undefined;
  where(name: SecretName): string;
}


/** The library's minimum (`security.clusterKey`), checked here to name the flag. */
const MIN_CLUSTER_KEY_BYTES = 32;
const NODE_ID = /^[A-Za-z0-9_-]{1,128}$/;
const SEED = /^S[A-Z2-7]{57}$/;

/** Credentials a NATS URL carries (nats://user:pass@host, or nats://token@host). */
function urlCredentials(url: string): Pick<NatsLogin, "user" | "pass" | "token"> | undefined {
  const u = new URL(url.includes("://") ? url : `nats://${url}`);
  if (u.username === "" && u.password === "") return undefined;
  const user = decodeURIComponent(u.username);
  return u.password === "" ? { token: user } : { user, pass: decodeURIComponent(u.password) };
}

/** `url` without its credentials. */
function withoutCredentials(url: string): string {
  return url.replace(/\/\/[^@/]*@/, "//");
}

/** The credentials the URLs carry, the same in each that has some (the node logs in to every server the same way). */
function credentialsOf(urls: readonly string[], where: string): Pick<NatsLogin, "user" | "pass" | "token"> | undefined {
  const given = urls.map(urlCredentials).filter((c) => c !== undefined);
  if (given.some((c) => JSON.stringify(c) !== JSON.stringify(given[0]))) {
    throw new ConfigError(`${where}: the URLs carry different credentials; the node logs in to every server the same way`);
  }
  return given[0];
}

/**
 * The login for this DC's NATS and the server URLs to dial (credentials moved out of them). URLs
 * may carry credentials instead of the flags, the same ones in every URL of the list.
 */
export function natsLogin(s: Settings, urls: readonly string[], urlsWhere: string): { login: NatsLogin; servers: string[] } {
  const login: NatsLogin = {};
  const user = s.value("natsUser");
  const pass = s.value("natsPass");
  if ((user === undefined) !== (pass === undefined)) {
    throw new ConfigError(`${s.where("natsUser")} and ${s.where("natsPass")} go together: give both or neither`);
  }
  if (user !== undefined) Object.assign(login, { user, pass });
  const token = s.value("natsToken");
  if (token !== undefined) login.token = token;
  const nkey = s.value("natsNkey");
  if (nkey !== undefined) login.nkey = nkeySeed(nkey, s.where("natsNkey"));
  const creds = s.value("natsCreds");
  if (creds !== undefined) {
    if (!read(creds, s.where("natsCreds")).includes("BEGIN NATS USER JWT")) {
      throw new ConfigError(`${s.where("natsCreds")}: ${creds} is not a NATS .creds file (no "BEGIN NATS USER JWT" block)`);
    }
    login.credsFile = creds;
  }
  const kinds = [user !== undefined && "natsUser", token !== undefined && "natsToken", nkey !== undefined && "natsNkey", creds !== undefined && "natsCreds"].filter(
    (k): k is SecretName => k !== false,
  );
  if (kinds.length > 1) throw new ConfigError(`give one way to log in to NATS, not ${kinds.map((k) => s.where(k)).join(" and ")}`);

  const inUrls = credentialsOf(urls, urlsWhere);
  if (inUrls !== undefined) {
    if (kinds.length > 0) throw new ConfigError(`${urlsWhere}: credentials in the URL and ${s.where(kinds[0]!)}: keep one of the two`);
    Object.assign(login, inUrls);
  }

  const tls = tlsFiles(s);
  if (tls !== undefined) login.tls = tls;
  return { login, servers: urls.map(withoutCredentials) };
}

/** The login for a remote DC: credentials in its URLs replace the node's own user/password, token, nkey or creds. */
export function remoteLogin(login: NatsLogin, urls: readonly string[], where: string): { login: NatsLogin; servers: string[] } {
  const inUrls = credentialsOf(urls, where);
  if (inUrls === undefined) return { login, servers: [...urls] };
  return { login: { ...inUrls, ...(login.tls === undefined ? {} : { tls: login.tls }) }, servers: urls.map(withoutCredentials) };
}

function tlsFiles(s: Settings): NatsLogin["tls"] {
  const [caFile, certFile, keyFile] = (["natsTlsCa", "natsTlsCert", "natsTlsKey"] as const).map((n) => {
    const path = s.value(n);
    if (path !== undefined) read(path, s.where(n));
    return path;
  });
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new ConfigError(`${s.where("natsTlsCert")} and ${s.where("natsTlsKey")} go together (a client certificate and its key)`);
  }
  if (caFile === undefined && certFile === undefined) return undefined;
  return { ...(caFile === undefined ? {} : { caFile }), ...(certFile === undefined ? {} : { certFile, keyFile: keyFile! }) };
}

/** An nkey user seed given as itself or as the path of a file holding it. */
function nkeySeed(value: string, where: string): string {
  const seed = SEED.test(value) ? value : read(value, where).trim();
  if (!seed.startsWith("SU") || !validSeed(seed)) {
    throw new ConfigError(`${where} must be an nkey user seed (SU…, e.g. from \`nk -gen user\`) or a file holding one`);
  }
  return seed;
}

/** `ReplicatorOptions.security` from the cluster key, node key and trusted keys settings; undefined when none is set. */
export function security(s: Settings, nodeId: string): NodeSecurity | undefined {
  const out: NodeSecurity = {};
  const inline = s.value("clusterKey");
  const file = s.value("clusterKeyFile");
  if (inline !== undefined && file !== undefined) throw new ConfigError(`${s.where("clusterKey")} and ${s.where("clusterKeyFile")}: give one`);
  if (inline !== undefined || file !== undefined) {
    const key = inline ?? read(file!, s.where("clusterKeyFile")).trim();
    const where = s.where(inline === undefined ? "clusterKeyFile" : "clusterKey");
    if (Buffer.byteLength(key) < MIN_CLUSTER_KEY_BYTES) {
      throw new ConfigError(`${where}: the cluster key must have at least ${MIN_CLUSTER_KEY_BYTES} bytes (e.g. \`openssl rand -base64 32\`)`);
    }
    out.clusterKey = key;
  }

  const keyFile = s.value("nodeKeyFile");
  const trustedFile = s.value("trustedKeys");
  if ((keyFile === undefined) !== (trustedFile === undefined)) {
    throw new ConfigError(`${s.where("nodeKeyFile")} and ${s.where("trustedKeys")} go together: a node signs with its key and checks others' with the trusted keys`);
  }
  if (keyFile !== undefined && trustedFile !== undefined) {
    const nodeKey = read(keyFile, s.where("nodeKeyFile")).trim();
    if (!validSeed(nodeKey)) throw new ConfigError(`${s.where("nodeKeyFile")}: ${keyFile} does not hold an nkey seed (S…, e.g. from \`nk -gen user\`)`);
    const trustedKeys = trusted(read(trustedFile, s.where("trustedKeys")), `${s.where("trustedKeys")} (${trustedFile})`);
    const own = Object.hasOwn(trustedKeys, nodeId) ? trustedKeys[nodeId] : undefined;
    const pub = nkeys.fromSeed(new TextEncoder().encode(nodeKey)).getPublicKey();
    if (own !== undefined && own !== pub) {
      throw new ConfigError(`${s.where("trustedKeys")} lists ${own} for this node (${nodeId}), but ${s.where("nodeKeyFile")} holds the key of ${pub}`);
    }
    Object.assign(out, { nodeKey, trustedKeys });
  }
  return Object.keys(out).length === 0 ? undefined : out;
}

/** A JSON object of node id → public nkey. */
function trusted(text: string, where: string): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ConfigError(`${where} is not JSON: write an object of node id → public nkey, e.g. {"east-1": "UA…"}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`${where} must be a JSON object of node id → public nkey, e.g. {"east-1": "UA…"}`);
  }
  const out: Record<string, string> = Object.create(null);
  for (const [id, key] of Object.entries(parsed)) {
    if (!NODE_ID.test(id)) throw new ConfigError(`${where}: ${JSON.stringify(id)} is not a node id (1-128 letters, digits, '-' or '_')`);
    if (typeof key !== "string" || !validPublicKey(key)) throw new ConfigError(`${where}: the key of ${id} is not a public nkey (U…, 56 characters)`);
    out[id] = key;
  }
  if (Object.keys(out).length === 0) throw new ConfigError(`${where} lists no node: give the public nkey of every node`);
  return { ...out };
}

/** The PEM certificate and key of the API's HTTPS, as paths; undefined for plain HTTP. */
export function httpsFiles(s: Settings): { certFile: string; keyFile: string } | undefined {
  const certFile = s.value("tlsCert");
  const keyFile = s.value("tlsKey");
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new ConfigError(`${s.where("tlsCert")} and ${s.where("tlsKey")} go together: HTTPS needs a certificate and its key`);
  }
  if (certFile === undefined || keyFile === undefined) return undefined;
  read(certFile, s.where("tlsCert"));
  read(keyFile, s.where("tlsKey"));
  return { certFile, keyFile };
}

function validSeed(seed: string): boolean {
  try {
    nkeys.fromSeed(new TextEncoder().encode(seed));
    return true;
  } catch {
    return false;
  }
}

function validPublicKey(key: string): boolean {
  try {
    nkeys.fromPublic(key);
    return true;
  } catch {
    return false;
  }
}

function read(path: string, where: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError(`${where}: cannot read ${JSON.stringify(path)} (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
}
