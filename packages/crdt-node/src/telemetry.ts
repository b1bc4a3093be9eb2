/**
 * The daemon's OpenTelemetry metrics: one MeterProvider, with the resource from OTEL_SERVICE_NAME /
 * OTEL_RESOURCE_ATTRIBUTES (and the node id as service.instance.id), read by a Prometheus exporter
 * (GET /metrics), a periodic OTLP/HTTP push, both or neither, as OTEL_METRICS_EXPORTER says. The
 * Node.js runtime's metrics (event-loop delay, heap, GC) go alongside the replicator's.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { OTLPMetricExporter as OtlpJsonExporter } from "@opentelemetry/exporter-metrics-otlp-http";
import { OTLPMetricExporter as OtlpProtobufExporter } from "@opentelemetry/exporter-metrics-otlp-proto";
import { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import { RuntimeNodeInstrumentation } from "@opentelemetry/instrumentation-runtime-node";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { MeterProvider, PeriodicExportingMetricReader, type IMetricReader } from "@opentelemetry/sdk-metrics";
import type { TelemetrySettings } from "./telemetry-config.js";

export interface Telemetry {
  readonly meterProvider: MeterProvider;
  /** GET /metrics: Prometheus text, or 404 saying where the metrics go when Prometheus is not an exporter. */
  metrics(req: IncomingMessage, res: ServerResponse): void;
  /** Push what is left (OTLP) and stop. */
  shutdown(): Promise<void>;
}

export function startTelemetry(settings: TelemetrySettings, nodeId: string): Telemetry {
  const readers: IMetricReader[] = [];
  let prometheus: PrometheusExporter | undefined;
  if (settings.exporters.includes("prometheus")) readers.push((prometheus = new PrometheusExporter({ preventServerStart: true })));
  if (settings.exporters.includes("otlp")) {
    const { protocol, url, intervalMs, timeoutMs } = settings.otlp;
    // Headers, compression and TLS files come from OTEL_EXPORTER_OTLP_* as the exporter reads them.
    const exporter = protocol === "http/json" ? new OtlpJsonExporter({ url }) : new OtlpProtobufExporter({ url });
    readers.push(new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: intervalMs, exportTimeoutMillis: timeoutMs }));
  }
  const resource = resourceFromAttributes({ "service.instance.id": nodeId, ...settings.resource });
  const meterProvider = new MeterProvider({ resource, readers });
  const runtime = new RuntimeNodeInstrumentation({ enabled: false });
  runtime.setMeterProvider(meterProvider);
  runtime.enable();

  const where = settings.exporters.length === 0 ? "not exported (OTEL_METRICS_EXPORTER=none)" : `pushed over OTLP to ${settings.otlp.url}`;
  return {
    meterProvider,
    metrics(req, res) {
      if (prometheus !== undefined) return prometheus.getMetricsRequestHandler(req, res);
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
      res.end(`metrics are ${where}; set OTEL_METRICS_EXPORTER=prometheus (or otlp,prometheus) to serve them here\n`);
    },
    async shutdown() {
      runtime.disable();
      await meterProvider.shutdown();
    },
  };
}
