/**
 * A minimal NATS decentralized-auth setup for tests, made with nkeys alone (no nsc, no @nats-io/jwt):
 * an operator, one account and its users, as signed JWTs (header.claims.signature, base64url,
 * ed25519 by the issuer's nkey), the server config lines that trust them (memory resolver), and
 * `.creds` files.
 */
import { randomUUID } from "node:crypto";
import { nkeys } from "@nats-io/transport-node";

type KeyPair = ReturnType<typeof nkeys.createOperator>;

const b64url = (s: string | Uint8Array): string => Buffer.from(s).toString("base64url");

function sign(issuer: KeyPair, subject: string, name: string, nats: Record<string, unknown>): string {
  const header = b64url(JSON.stringify({ typ: "JWT", alg: "ed25519-nkey" }));
  const claims = { jti: randomUUID(), iat: Math.floor(Date.now() / 1000), iss: issuer.getPublicKey(), name, sub: subject, nats: { ...nats, version: 2 } };
  const body = `${header}.${b64url(JSON.stringify(claims))}`;
  return `${body}.${b64url(issuer.sign(new TextEncoder().encode(body)))}`;
}

const NO_LIMITS = { subs: -1, data: -1, payload: -1 };

export interface JwtSetup {
  /** Lines for nats-server's config file: the operator and the account, preloaded in a memory resolver. */
  serverConfig: string;
  /** The contents of a `.creds` file for a new user of the account. */
  userCreds(name: string): string;
  /** A `.creds` file whose JWT the account did not sign (another account's user): refused by the server. */
  strangerCreds(): string;
}

export function jwtSetup(): JwtSetup {
  const operator = nkeys.createOperator();
  const account = nkeys.createAccount();
  const operatorJwt = sign(operator, operator.getPublicKey(), "test-operator", { type: "operator" });
  const accountJwt = sign(operator, account.getPublicKey(), "test-account", {
    type: "account",
    limits: { ...NO_LIMITS, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 },
  });
  const creds = (issuer: KeyPair, name: string): string => {
    const user = nkeys.createUser();
    const jwt = sign(issuer, user.getPublicKey(), name, { type: "user", pub: {}, sub: {}, ...NO_LIMITS });
    const seed = new TextDecoder().decode(user.getSeed());
    return `-----BEGIN NATS USER JWT-----\n${jwt}\n------END NATS USER JWT------\n\n-----BEGIN USER NKEY SEED-----\n${seed}\n------END USER NKEY SEED------\n`;
  };
  return {
    serverConfig: `operator: ${operatorJwt}\nresolver: MEMORY\nresolver_preload: {\n  ${account.getPublicKey()}: ${accountJwt}\n}\n`,
    userCreds: (name) => creds(account, name),
    strangerCreds: () => creds(nkeys.createAccount(), "stranger"),
  };
}
