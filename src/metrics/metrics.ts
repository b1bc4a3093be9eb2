// PLACEHOLDER — replaced by the OpenTelemetry implementation (issue 4).
import type { MeterProvider } from "@opentelemetry/api";
import type { ReplicatorContext } from "../replicator/context.js";

export function attachMetrics(_ctx: ReplicatorContext, _provider?: MeterProvider): { close(): void } {
  return { close: () => undefined };
}
