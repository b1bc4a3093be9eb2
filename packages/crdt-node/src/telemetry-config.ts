/**
 * The standard OpenTelemetry environment variables the daemon honours, validated into settings
 * (no I/O; telemetry.ts builds the SDK from them). Every problem is a ConfigError naming the variable.
 * https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/
 */
import { ConfigError } from "crdt-replicator";

export type MetricsExporter = "otlp" | "prometheus";
export type OtlpProtocol = "http/protobuf" | "http/json";

export interface TelemetrySettings {
  /** Where metrics go: pushed over OTLP, served on GET /metrics for Prometheus, both, or neither (`none`). */
  exporters: MetricsExporter[];
  otlp: {
    protocol: OtlpProtocol;
    /** The full metrics URL (…/v1/metrics). */
    url: string;
    intervalMs: number;
    timeoutMs: number;
  };
  /** Resource attributes: OTEL_RESOURCE_ATTRIBUTES, with service.name from OTEL_SERVICE_NAME (default "crdt-node"). */
  resource: Record<string, string>;
}

export const DEFAULT_SERVICE_NAME = "crdt-node";
const DEFAULT_OTLP_ENDPOINT = "http://localhost:4318";
const DEFAULT_INTERVAL_MS = 60_000;
const DEFAULT_TIMEOUT_MS = 30_000;

export function telemetrySettings(env: Readonly<Record<string, string | undefined>>): TelemetrySettings {
  const get = (name: string): string | undefined => {
    const v = env[name]?.trim();
    return v === undefined || v === "" ? undefined : v;
  };
  const disabled = get("OTEL_SDK_DISABLED")?.toLowerCase() === "true";
  const intervalMs = milliseconds(get("OTEL_METRIC_EXPORT_INTERVAL"), "OTEL_METRIC_EXPORT_INTERVAL", DEFAULT_INTERVAL_MS);
  const attributes = resourceAttributes(get("OTEL_RESOURCE_ATTRIBUTES") ?? "");
  return {
    exporters: disabled ? [] : exporters(get("OTEL_METRICS_EXPORTER") ?? "prometheus"),
    otlp: {
      protocol: protocol(get("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL") ?? get("OTEL_EXPORTER_OTLP_PROTOCOL") ?? "http/protobuf"),
      url: metricsUrl(get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"), get("OTEL_EXPORTER_OTLP_ENDPOINT")),
      intervalMs,
      // The SDK refuses a timeout longer than the interval.
      timeoutMs: Math.min(intervalMs, milliseconds(get("OTEL_METRIC_EXPORT_TIMEOUT"), "OTEL_METRIC_EXPORT_TIMEOUT", DEFAULT_TIMEOUT_MS)),
    },
    resource: { ...attributes, "service.name": get("OTEL_SERVICE_NAME") ?? attributes["service.name"] ?? DEFAULT_SERVICE_NAME },
  };
}

function exporters(s: string): MetricsExporter[] {
  const names = s.split(",").map((x) => x.trim().toLowerCase()).filter((x) => x !== "");
  if (names.includes("none")) {
    if (names.length > 1) throw new ConfigError(`OTEL_METRICS_EXPORTER: none cannot be combined with other exporters; got ${JSON.stringify(s)}`);
    return [];
  }
  const bad = names.find((n) => n !== "otlp" && n !== "prometheus");
  if (bad !== undefined || names.length === 0) {
    throw new ConfigError(`OTEL_METRICS_EXPORTER must be otlp, prometheus (both: otlp,prometheus) or none; got ${JSON.stringify(s)}`);
  }
  return [...new Set(names as MetricsExporter[])];
}

function protocol(s: string): OtlpProtocol {
  if (s === "http/protobuf" || s === "http/json") return s;
  if (s === "grpc") throw new ConfigError("OTEL_EXPORTER_OTLP_PROTOCOL=grpc is not supported by crdt-node: use http/protobuf (the default, port 4318) or http/json");
  throw new ConfigError(`OTEL_EXPORTER_OTLP_PROTOCOL must be http/protobuf or http/json; got ${JSON.stringify(s)}`);
}

/** The signal-specific endpoint is the URL as is; the general one gets /v1/metrics appended (as the specification says). */
function metricsUrl(metricsEndpoint: string | undefined, endpoint: string | undefined): string {
  const [url, name] = metricsEndpoint !== undefined ? [metricsEndpoint, "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"] : [`${(endpoint ?? DEFAULT_OTLP_ENDPOINT).replace(/\/+$/, "")}/v1/metrics`, "OTEL_EXPORTER_OTLP_ENDPOINT"];
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConfigError(`${name} must be an http:// or https:// URL, e.g. http://otel-collector:4318; got ${JSON.stringify(url)}`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new ConfigError(`${name} must be an http:// or https:// URL; got ${JSON.stringify(url)}`);
  return url;
}

function milliseconds(s: string | undefined, name: string, fallback: number): number {
  if (s === undefined) return fallback;
  const n = Number(s);
  if (!/^\d+$/.test(s) || !Number.isSafeInteger(n) || n < 1) throw new ConfigError(`${name} must be a positive integer (milliseconds); got ${JSON.stringify(s)}`);
  return n;
}

/** `key1=value1,key2=value2`, values percent-encoded (W3C Baggage octets). */
function resourceAttributes(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of s.split(",")) {
    if (pair.trim() === "") continue;
    const i = pair.indexOf("=");
    const key = i < 0 ? "" : pair.slice(0, i).trim();
    if (key === "") throw new ConfigError(`OTEL_RESOURCE_ATTRIBUTES must be key=value pairs separated by commas, e.g. deployment.environment.name=prod; got ${JSON.stringify(pair)}`);
    try {
      out[key] = decodeURIComponent(pair.slice(i + 1).trim());
    } catch {
      throw new ConfigError(`OTEL_RESOURCE_ATTRIBUTES: the value of ${key} is not valid percent-encoding`);
    }
  }
  return out;
}
