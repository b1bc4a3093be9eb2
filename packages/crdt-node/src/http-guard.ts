/**
 * The HTTP API's door rules, as pure decisions: which `Host` names it answers (DNS rebinding),
 * which `Origin`s may call it (cross-site requests, CORS), and which request bodies it reads.
 *
 * A page in a browser can send a POST to any address without asking first when its body is a
 * form or text; it can read the answer only when the server allows its origin, or when a DNS name
 * it controls is re-pointed at the node (then the browser sends that name as `Host`). So: bodies
 * must be `application/json` (a cross-site page cannot send that without a CORS preflight), a
 * request from another origin may not change state unless that origin is configured, and only
 * names the operator meant are answered.
 */
import { isIP } from "node:net";

/** Host names a request may carry: `"any"` or a list, besides IP literals and localhost (always allowed). */
export type HostRule = "any" | ReadonlySet<string>;
/** Origins (scheme://host[:port]) allowed to call the API from a browser: `"any"` or a list. */
export type OriginRule = "any" | ReadonlySet<string>;

/**
 * The names answered when `--allowed-hosts` is not given: the listen host when it is a name and,
 * listening on every interface, the machine's host name and the node id (docker-compose and
 * Kubernetes address a node by its service or pod name, which is the node id in our deployments).
 */
export function defaultAllowedHosts(listenHost: string, hostname: string, nodeId: string): Set<string> {
  const wildcard = listenHost === "0.0.0.0" || listenHost === "::";
  const names = wildcard ? [hostname, nodeId] : [listenHost];
  return new Set(names.map(normalHost).filter((n) => n !== "" && isIP(n) === 0));
}

/** The host name of a `Host` header, lower-cased, without port, brackets or trailing dot. */
function hostNameOf(header: string): string {
  const h = header.trim();
  const bracketed = /^\[([^\]]*)\]/.exec(h); // [v6]:port
  return normalHost(bracketed ? bracketed[1]! : h.replace(/:\d*$/, ""));
}

function normalHost(name: string): string {
  return name.toLowerCase().replace(/\.$/, "");
}

/**
 * Whether a request's `Host` is served. IP literals and localhost always are (a rebinding page
 * cannot make the browser send them: they are not its own name). A missing Host is answered too:
 * browsers always send one.
 */
export function hostAllowed(header: string | undefined, rule: HostRule): boolean {
  if (header === undefined || rule === "any") return true;
  const name = hostNameOf(header);
  if (isIP(name) !== 0 || name === "localhost" || name.endsWith(".localhost")) return true;
  return rule.has(name);
}

/**
 * none: no Origin header (not a browser, or a same-origin GET); same: the page came from this
 * node; cors: a configured origin; foreign: anything else, "null" included.
 */
export type OriginVerdict = "none" | "same" | "cors" | "foreign";

export function originVerdict(origin: string | undefined, host: string | undefined, scheme: string, rule: OriginRule): OriginVerdict {
  if (origin === undefined) return "none";
  const o = parseOrigin(origin);
  if (o === undefined) return "foreign";
  if (host !== undefined && o === parseOrigin(`${scheme}://${host}`)) return "same";
  if (rule === "any" || rule.has(o)) return "cors";
  return "foreign";
}

/** The canonical form of an origin (`http://a.example:8080`), or undefined when it is not one. */
export function parseOrigin(s: string): string | undefined {
  try {
    const u = new URL(s);
    if ((u.protocol !== "http:" && u.protocol !== "https:") || u.username !== "" || u.password !== "") return undefined;
    if (u.pathname !== "/" || u.search !== "" || u.hash !== "") return undefined;
    return u.origin;
  } catch {
    return undefined;
  }
}

/** Methods that change state: refused from foreign origins. */
export function changesState(method: string): boolean {
  return method !== "GET" && method !== "HEAD" && method !== "OPTIONS";
}

export const CORS_ALLOW_METHODS = "GET, HEAD, POST, DELETE";
export const CORS_ALLOW_HEADERS = "authorization, content-type";

/** Why a body's content type is refused (415), or undefined when it is JSON in UTF-8. */
export function jsonContentTypeProblem(contentType: string | undefined): string | undefined {
  const [essence, ...params] = (contentType ?? "").split(";").map((p) => p.trim().toLowerCase());
  const send = "send the body as JSON with 'Content-Type: application/json' (curl: --json or -H 'content-type: application/json')";
  if (essence !== "application/json") return `${contentType === undefined ? "no content type" : `content type ${JSON.stringify(contentType)}`} is not accepted: ${send}`;
  for (const p of params) {
    const [name, value] = p.split("=", 2).map((x) => x?.trim().replace(/^"(.*)"$/, "$1"));
    if (name === "charset" && value !== "utf-8" && value !== "utf8") return `charset ${JSON.stringify(value)} is not accepted: ${send} in UTF-8`;
  }
  return undefined;
}
