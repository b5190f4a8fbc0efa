// Sluice's metrics: the families, the per-route children the request path increments, and the setters the
// runtime and the resilience code call. Names follow Prometheus/OpenTelemetry conventions (docs/observability.md).
import { AggregatorRegistry, Registry, collectDefaultMetrics, type OpenMetricsContentType } from 'prom-client';
import type { MetricsSettings } from '../config/observability-schema.ts';
import { CounterFamily, GaugeFamily, HistogramFamily, type HistogramSeries, type PromCollectable, type ScalarSeries } from './metric-family.ts';

/** OpenTelemetry's HTTP semantic conventions: known methods keep their name, any other is "_OTHER". */
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH', '_OTHER'] as const;
const STATUS_CLASSES = ['none', '1xx', '2xx', '3xx', '4xx', '5xx'] as const;
const OTHER_METHOD = 9;

export function methodIndex(method: string): number {
  switch (method) {
    case 'GET': return 0;
    case 'HEAD': return 1;
    case 'POST': return 2;
    case 'PUT': return 3;
    case 'DELETE': return 4;
    case 'CONNECT': return 5;
    case 'OPTIONS': return 6;
    case 'TRACE': return 7;
    case 'PATCH': return 8;
    default: return OTHER_METHOD;
  }
}

/** The bounded label value for a method. */
export function methodLabel(method: string): string {
  return METHODS[methodIndex(method)]!;
}

/** 0 for "none" (no response was sent: the client left, or the status is out of range), else the first digit. */
export function statusClassIndex(status: number | undefined): number {
  return status !== undefined && status >= 100 && status < 600 ? (status / 100) | 0 : 0;
}

/** Route label for requests that matched no route. */
export const NO_ROUTE = 'none';
/** Upstream label for requests that reached no upstream. */
export const NO_UPSTREAM = 'none';
/** Route label once metrics.maxRouteSeries distinct (listener, route) pairs exist. */
export const OVERFLOW_ROUTE = '_overflow';

export interface RequestSeries {
  readonly count: ScalarSeries;
  readonly duration: HistogramSeries;
}

/** Children for one (listener, route, upstream): found once, then cached by the route slot. */
export class UpstreamSlot {
  readonly #metrics: SluiceMetrics;
  readonly #listener: string;
  readonly #route: string;
  readonly #upstream: string;
  readonly received: ScalarSeries;
  readonly sent: ScalarSeries;
  readonly retries: ScalarSeries;
  readonly #requests: Array<RequestSeries | undefined> = new Array(METHODS.length * STATUS_CLASSES.length).fill(undefined);
  readonly #attempts: Array<HistogramSeries | undefined> = new Array(STATUS_CLASSES.length).fill(undefined);

  constructor(metrics: SluiceMetrics, listener: string, route: string, upstream: string) {
    this.#metrics = metrics;
    this.#listener = listener;
    this.#route = route;
    this.#upstream = upstream;
    this.received = metrics.receivedBytes.child(listener, route, upstream);
    this.sent = metrics.sentBytes.child(listener, route, upstream);
    this.retries = metrics.retries.child(route, upstream);
  }

  request(method: string, status: number): RequestSeries {
    const m = methodIndex(method);
    const c = statusClassIndex(status);
    const index = m * STATUS_CLASSES.length + c;
    let series = this.#requests[index];
    if (series === undefined) {
      const labels = [this.#listener, this.#route, this.#upstream, METHODS[m]!, STATUS_CLASSES[c]!];
      series = { count: this.#metrics.requests.child(...labels), duration: this.#metrics.requestDuration.child(...labels) };
      this.#requests[index] = series;
    }
    return series;
  }

  attempt(status: number | undefined): HistogramSeries {
    const c = statusClassIndex(status);
    let series = this.#attempts[c];
    if (series === undefined) {
      series = this.#metrics.attemptDuration.child(this.#route, this.#upstream, STATUS_CLASSES[c]!);
      this.#attempts[c] = series;
    }
    return series;
  }
}

/** Children for one (listener, route); the request telemetry holds it from arrival to end. */
export class RouteSlot {
  readonly #metrics: SluiceMetrics;
  readonly listener: string;
  readonly route: string;
  readonly inFlight: ScalarSeries;
  #lastUpstream: string | undefined;
  #lastSlot: UpstreamSlot | undefined;
  readonly #upstreams = new Map<string, UpstreamSlot>();

  constructor(metrics: SluiceMetrics, listener: string, route: string) {
    this.#metrics = metrics;
    this.listener = listener;
    this.route = route;
    this.inFlight = metrics.inFlight.child(listener, route);
  }

  upstream(name: string | undefined): UpstreamSlot {
    const upstream = name ?? NO_UPSTREAM;
    if (upstream === this.#lastUpstream) return this.#lastSlot!;
    let slot = this.#upstreams.get(upstream);
    if (slot === undefined) {
      slot = new UpstreamSlot(this.#metrics, this.listener, this.route, upstream);
      this.#upstreams.set(upstream, slot);
    }
    this.#lastUpstream = upstream;
    this.#lastSlot = slot;
    return slot;
  }
}

export type CircuitState = 'closed' | 'open' | 'half-open';
const CIRCUIT_STATES: readonly CircuitState[] = ['closed', 'open', 'half-open'];

/**
 * All of Sluice's metrics and their exposition. Counters survive reconfigure; bucket changes need a restart.
 *
 * @example
 * const metrics = new SluiceMetrics(settings, { version: '1.2.0' });
 * metrics.recordReload(true);
 * metrics.setConfigVersion(7);
 * const body = await metrics.render(false); // Prometheus text for GET /metrics
 */
export class SluiceMetrics {
  readonly requests: CounterFamily;
  readonly requestDuration: HistogramFamily;
  readonly inFlight: GaugeFamily;
  readonly receivedBytes: CounterFamily;
  readonly sentBytes: CounterFamily;
  readonly attemptDuration: HistogramFamily;
  readonly retries: CounterFamily;
  readonly targetHealthy: GaugeFamily;
  readonly circuitState: GaugeFamily;
  readonly rateLimitDecisions: CounterFamily;
  readonly shedRequests: CounterFamily;
  readonly configReloads: CounterFamily;
  readonly configVersion: GaugeFamily;
  readonly configReloadTime: GaugeFamily;
  readonly buildInfo: GaugeFamily;
  readonly traceSpans: CounterFamily;
  readonly logRecords: CounterFamily;

  readonly #prom = new Registry();
  readonly #openMetrics = openMetricsRegistry();
  readonly #slots = new Map<string, Map<string, RouteSlot>>();
  #slotCount = 0;
  #maxRouteSeries: number;

  /** Records what ended requests still have queued (end-batch.ts), so a read includes every request that ended. */
  readonly #settle: () => void;

  constructor(settings: MetricsSettings, options: { version: string; settle?: () => void }) {
    this.#settle = options.settle ?? (() => undefined);
    const bounds = settings.durationBuckets.map((ms) => ms / 1000);
    const requestLabels = ['listener', 'route', 'upstream', 'method', 'status_class'];
    this.requests = new CounterFamily('sluice_http_requests_total', 'Requests answered, by listener, route, upstream, method and status class.', requestLabels);
    this.requestDuration = new HistogramFamily('sluice_http_request_duration_seconds', 'Time from request arrival to the end of the response.', requestLabels, bounds);
    this.inFlight = new GaugeFamily('sluice_http_requests_in_flight', 'Requests being handled now.', ['listener', 'route']);
    this.receivedBytes = new CounterFamily('sluice_http_received_bytes_total', 'Request body bytes received from clients.', ['listener', 'route', 'upstream']);
    this.sentBytes = new CounterFamily('sluice_http_sent_bytes_total', 'Response body bytes sent to clients.', ['listener', 'route', 'upstream']);
    this.attemptDuration = new HistogramFamily('sluice_upstream_attempt_duration_seconds', 'Duration of each upstream attempt (retries count separately), by status class; "none" when it failed without a response.', ['route', 'upstream', 'status_class'], bounds);
    this.retries = new CounterFamily('sluice_upstream_retries_total', 'Upstream attempts after the first one of a request.', ['route', 'upstream']);
    this.targetHealthy = new GaugeFamily('sluice_upstream_target_healthy', '1 when the target is healthy, 0 when not.', ['upstream', 'target'], 'max');
    this.circuitState = new GaugeFamily('sluice_upstream_circuit_state', 'Circuit breaker state of a target: 1 on the current state.', ['upstream', 'target', 'state'], 'max');
    this.rateLimitDecisions = new CounterFamily('sluice_rate_limit_decisions_total', 'Rate-limit decisions, allowed or limited.', ['route', 'decision']);
    this.shedRequests = new CounterFamily('sluice_shed_requests_total', 'Requests refused to protect the gateway (overload), by reason.', ['listener', 'reason']);
    this.configReloads = new CounterFamily('sluice_config_reloads_total', 'Configuration reloads, by result (ok or failed).', ['result']);
    this.configVersion = new GaugeFamily('sluice_config_version', 'Version of the configuration being served.', [], 'min');
    this.configReloadTime = new GaugeFamily('sluice_config_last_reload_success_timestamp_seconds', 'Time of the last successful configuration load.', [], 'max');
    this.buildInfo = new GaugeFamily('sluice_build_info', 'Always 1; the labels tell the Sluice and Node.js versions.', ['version', 'node_version'], 'first');
    this.traceSpans = new CounterFamily('sluice_trace_spans_total', 'Finished spans handed to the OTLP exporter, by outcome: exported, dropped (queue full) or failed.', ['outcome']);
    this.logRecords = new CounterFamily('sluice_access_log_records_total', 'Access-log lines per sink, by outcome: written, dropped (buffer full) or failed (gave up after retries).', ['sink', 'outcome']);

    for (const family of [
      this.requests, this.requestDuration, this.inFlight, this.receivedBytes, this.sentBytes, this.attemptDuration,
      this.retries, this.targetHealthy, this.circuitState, this.rateLimitDecisions, this.shedRequests,
      this.configReloads, this.configVersion, this.configReloadTime, this.buildInfo, this.traceSpans, this.logRecords,
    ]) {
      register(this.#prom, family.view(false));
      register(this.#openMetrics, family.view(true));
    }
    this.configReloads.child('ok');
    this.configReloads.child('failed');
    this.buildInfo.child(options.version, process.versions.node).value = 1;
    this.#maxRouteSeries = settings.maxRouteSeries;
    if (settings.processMetrics) {
      // One set per registry: prom-client's OpenMetrics rendering renames counters in place (see metric-family.ts).
      collectDefaultMetrics({ register: this.#prom });
      collectDefaultMetrics({ register: this.#openMetrics });
      // Gauges named like counters fail `promtool check metrics`; their per-type siblings (nodejs_active_handles…)
      // carry the same numbers.
      for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
        this.#prom.removeSingleMetric(name);
        this.#openMetrics.removeSingleMetric(name);
      }
    }
  }

  /** Settings that can change on reload; buckets and process metrics stay as they were at start. */
  reconfigure(settings: MetricsSettings): void {
    this.#maxRouteSeries = settings.maxRouteSeries;
  }

  /** The children for (listener, route), created once; undefined route means "none". */
  routeSlot(listener: string, route: string | undefined): RouteSlot {
    const routeName = route ?? NO_ROUTE;
    let byRoute = this.#slots.get(listener);
    if (byRoute === undefined) {
      byRoute = new Map();
      this.#slots.set(listener, byRoute);
    }
    let slot = byRoute.get(routeName);
    if (slot === undefined) {
      if (this.#slotCount >= this.#maxRouteSeries && routeName !== NO_ROUTE) {
        slot = byRoute.get(OVERFLOW_ROUTE) ?? this.#newSlot(byRoute, listener, OVERFLOW_ROUTE);
        byRoute.set(routeName, slot); // cache the mapping so the next request of this route is one lookup too
      } else {
        slot = this.#newSlot(byRoute, listener, routeName);
      }
    }
    return slot;
  }

  #newSlot(byRoute: Map<string, RouteSlot>, listener: string, route: string): RouteSlot {
    const slot = new RouteSlot(this, listener, route);
    byRoute.set(route, slot);
    this.#slotCount++;
    return slot;
  }

  /** A configuration load finished: ok (applied) or failed (rejected, the previous one still serves). */
  recordReload(ok: boolean): void {
    this.configReloads.child(ok ? 'ok' : 'failed').value++;
    if (ok) this.configReloadTime.child().value = Date.now() / 1000;
  }

  /** A configuration went into service: its version, and the time of the last successful load. */
  setConfigVersion(version: number): void {
    this.configVersion.child().value = version;
    this.configReloadTime.child().value = Date.now() / 1000;
  }

  /** The control plane's own reload counts, copied in before a scrape (it counts; metrics only show). */
  setReloadCounts(ok: number, failed: number): void {
    this.configReloads.child('ok').value = ok;
    this.configReloads.child('failed').value = failed;
  }

  setTargetHealth(upstream: string, target: string, healthy: boolean): void {
    this.targetHealthy.child(upstream, target).value = healthy ? 1 : 0;
  }

  setCircuitState(upstream: string, target: string, state: CircuitState): void {
    for (const s of CIRCUIT_STATES) this.circuitState.child(upstream, target, s).value = s === state ? 1 : 0;
  }

  /** Forget a target that left its upstream (reload, discovery), so its gauges stop being exported. */
  removeTarget(upstream: string, target: string): void {
    this.targetHealthy.remove(upstream, target);
    for (const s of CIRCUIT_STATES) this.circuitState.remove(upstream, target, s);
  }

  countRateLimit(route: string | undefined, decision: 'allowed' | 'limited', count = 1): void {
    this.rateLimitDecisions.child(route ?? NO_ROUTE, decision).value += count;
  }

  registerFamily(family: CounterFamily | GaugeFamily | HistogramFamily): void {
    register(this.#prom, family.view(false));
    register(this.#openMetrics, family.view(true));
  }

  countShed(listener: string, reason: string, count = 1): void {
    this.shedRequests.child(listener, reason).value += count;
  }

  contentType(openMetrics: boolean): string {
    return openMetrics ? Registry.OPENMETRICS_CONTENT_TYPE : Registry.PROMETHEUS_CONTENT_TYPE;
  }

  /** The exposition for GET /metrics: Prometheus text 0.0.4, or OpenMetrics 1.0 with exemplars. */
  render(openMetrics: boolean): Promise<string> {
    this.#settle();
    return openMetrics ? this.#openMetrics.metrics() : this.#prom.metrics();
  }

  /** This process's metrics as data, for a cluster primary to aggregate with aggregateMetrics(). */
  snapshot(): Promise<unknown[]> {
    this.#settle();
    return this.#prom.getMetricsAsJSON();
  }
}

/**
 * Sums the snapshots of several workers (counters and histograms add up; gauges follow each family's aggregator:
 * in-flight sums, health and circuit state take the max, config version the min) and renders them.
 */
export function aggregateMetrics(snapshots: unknown[][], openMetrics: boolean): Promise<string> {
  if (!openMetrics) return AggregatorRegistry.aggregate(snapshots).metrics();
  // OpenMetrics names a counter family without `_total` and adds it to each sample; the snapshots carry the
  // Prometheus names, which the aggregated registry would otherwise print with a second `_total`.
  const renamed = snapshots.map((metrics) =>
    metrics.map((m) => {
      const metric = m as { name: string; type: string };
      return metric.type === 'counter' ? { ...metric, name: metric.name.replace(/_total$/, '') } : metric;
    }),
  );
  const registry = AggregatorRegistry.aggregate(renamed);
  registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE as never);
  return registry.metrics();
}

/** Whether an Accept header asks for OpenMetrics (what Prometheus sends when exemplar storage is on). */
export function wantsOpenMetrics(accept: string | undefined): boolean {
  return accept !== undefined && accept.includes('application/openmetrics-text');
}

function openMetricsRegistry(): Registry<OpenMetricsContentType> {
  const registry = new Registry<OpenMetricsContentType>();
  registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  return registry;
}

function register(registry: Registry<OpenMetricsContentType> | Registry, metric: PromCollectable): void {
  // The registry only reads name/help/type/aggregator and calls get() and reset() (lib/registry.js); its typings
  // name prom-client's own classes, hence the cast at this one boundary.
  (registry as Registry).registerMetric(metric as unknown as Parameters<Registry['registerMetric']>[0]);
}
