// Targets from a Kubernetes Service's EndpointSlices, through the Kubernetes client (@kubernetes/client-node): an
// informer lists the slices labelled kubernetes.io/service-name=<service>, then watches from that resourceVersion
// (listing again when the API server says the version is gone, 410). Every ready endpoint address on the chosen
// port is a target. A failed list or watch keeps the last known targets and is retried after a second. The
// client is loaded when a kubernetes discovery starts, so configs without one never load it.
import { isIPv6 } from 'node:net';
import type { V1EndpointSlice } from '@kubernetes/client-node';
import type { KubernetesDiscoveryConfig } from '../config/discovery-schema.ts';
import { sameTargets, sortTargets, type DiscoveredTarget, type DiscoveryListener, type TargetSource } from './types.ts';

/** The part of a discovery.k8s.io/v1 EndpointSlice read here. */
export interface EndpointSliceView {
  addressType?: string;
  ports?: Array<{ name?: string; port?: number }> | null;
  endpoints?: Array<{ addresses: string[]; conditions?: { ready?: boolean } }> | null;
}

const RETRY_MS = 1000;

/** The targets in a set of EndpointSlices: ready endpoints (an unset `ready` counts as ready), one per address. */
export function targetsOfSlices(slices: readonly EndpointSliceView[], config: Pick<KubernetesDiscoveryConfig, 'port' | 'scheme'>): DiscoveredTarget[] {
  const byUrl = new Map<string, DiscoveredTarget>();
  for (const slice of slices) {
    const ports = slice.ports ?? [];
    const port = config.port === undefined ? ports[0] : ports.find((p) => (typeof config.port === 'number' ? p.port === config.port : p.name === config.port));
    if (port?.port === undefined) continue;
    for (const endpoint of slice.endpoints ?? []) {
      if (endpoint.conditions?.ready === false) continue;
      for (const address of endpoint.addresses) {
        const url = `${config.scheme}://${isIPv6(address) ? `[${address}]` : address}:${port.port}`;
        byUrl.set(url, { url, weight: 1 });
      }
    }
  }
  return sortTargets([...byUrl.values()]);
}

export class KubernetesTargetSource implements TargetSource {
  readonly description: string;
  readonly #config: KubernetesDiscoveryConfig;
  #stopped = false;
  #stop: (() => void) | undefined;
  #emitted: DiscoveredTarget[] | undefined;

  constructor(config: KubernetesDiscoveryConfig) {
    this.#config = config;
    this.description = `kubernetes ${config.namespace}/${config.service}`;
  }

  start(listener: DiscoveryListener): void {
    this.#run(listener).catch((err: unknown) => listener.error(new Error(`${this.description}: ${(err as Error).message}`, { cause: err })));
  }

  stop(): void {
    this.#stopped = true;
    this.#stop?.();
  }

  async #run(listener: DiscoveryListener): Promise<void> {
    const k8s = await import('@kubernetes/client-node');
    if (this.#stopped) return;
    const { namespace, service } = this.#config;
    const kc = new k8s.KubeConfig();
    if (this.#config.kubeconfig !== undefined) kc.loadFromFile(this.#config.kubeconfig);
    else kc.loadFromDefault();
    const api = kc.makeApiClient(k8s.DiscoveryV1Api);
    const labelSelector = `kubernetes.io/service-name=${service}`;
    const informer = k8s.makeInformer<V1EndpointSlice>(
      kc,
      `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices`,
      () => api.listNamespacedEndpointSlice({ namespace, labelSelector }),
      labelSelector,
    );
    let timer: NodeJS.Timeout | undefined;
    this.#stop = () => {
      clearTimeout(timer);
      void informer.stop();
    };
    // Coalesced: the first list reports each slice one by one.
    let queued = false;
    const emit = () => {
      if (queued) return;
      queued = true;
      queueMicrotask(() => {
        queued = false;
        if (this.#stopped) return;
        listener.error(undefined);
        const targets = targetsOfSlices(informer.list(namespace), this.#config);
        if (sameTargets(this.#emitted, targets)) return;
        this.#emitted = targets;
        listener.targets(targets);
      });
    };
    informer.on('change', emit);
    // start() resolves whether or not its list worked; an error in between is what tells.
    let failed = false;
    const start = async () => {
      failed = false;
      await informer.start();
      // A Service with no slices has no change to report: say so once it is listed.
      if (!failed && !this.#stopped) emit();
    };
    // The informer stops on an error: report it, keep the targets it had, and start it again.
    informer.on('error', (err: unknown) => {
      failed = true;
      if (this.#stopped) return;
      listener.error(new Error(`${this.description}: ${describe(err)}`));
      clearTimeout(timer);
      timer = setTimeout(() => void start().catch(() => undefined), RETRY_MS);
      timer.unref();
    });
    await start();
  }
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.message;
  const status = (err as { statusCode?: number; code?: number } | undefined)?.statusCode ?? (err as { code?: number } | undefined)?.code;
  return status === undefined ? String(err) : `HTTP ${status}`;
}
