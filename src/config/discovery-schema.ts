// Where an upstream's targets come from when they are not listed: DNS, the etcd registry that services join
// themselves, or a Kubernetes Service's EndpointSlices (src/discovery/). Spread into schema.ts's upstream as `discovery`; the descriptions become the docs.
import { z } from 'zod';
import { duration } from './units.ts';

const ETCD_ENDPOINT = z.string().regex(/^https?:\/\/[^/\s?#]+\/?$/, 'an etcd endpoint is http://host:port (its client URL), e.g. http://127.0.0.1:2379');

const dnsDiscovery = z
  .strictObject({
    name: z.string().min(1).describe('The DNS name: users.internal for A/AAAA, _http._tcp.users.internal for SRV.'),
    type: z.enum(['A', 'AAAA', 'SRV']).default('A').describe('A or AAAA: one target per address, on `port`. SRV: one target per record of the best priority, with its port, and its weight as the target weight.'),
    port: z.number().int().min(1).max(65_535).optional().describe('Port of every target found by A/AAAA (required for them; SRV records carry their own).'),
    scheme: z.enum(['http', 'https']).default('http').describe('Scheme of the targets found.'),
    minInterval: duration.prefault('1s').describe('Floor of the time between two resolutions: a record whose TTL is shorter (or 0) is asked again after this, and so is a failed resolution.'),
    maxInterval: duration.prefault('5m').describe('Ceiling of the time between two resolutions, whatever the TTL says.'),
    servers: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe('DNS servers to ask ("10.0.0.2", "127.0.0.1:8600", "[::1]:53"), instead of the system resolver\'s (/etc/resolv.conf).'),
  })
  .superRefine((dns, ctx) => {
    if (dns.type !== 'SRV' && dns.port === undefined) ctx.addIssue({ code: 'custom', path: ['port'], message: `an ${dns.type} record has no port: set port` });
    if (dns.maxInterval < dns.minInterval) ctx.addIssue({ code: 'custom', path: ['maxInterval'], message: 'maxInterval is shorter than minInterval' });
  })
  .describe('Targets from DNS, re-resolved when the answer\'s TTL runs out (within minInterval..maxInterval).');

/** TLS to etcd: a private CA, and a client certificate when etcd asks for one (--client-cert-auth). */
export const etcdTls = z
  .strictObject({
    ca: z.string().min(1).optional().describe('PEM file with the CA that signed etcd\'s certificate (default: the system store). Relative to the config file.'),
    cert: z.string().min(1).optional().describe('PEM file with this client\'s certificate, when etcd requires client certificates (with key).'),
    key: z.string().min(1).optional().describe('PEM file with the private key of cert.'),
  })
  .refine((t) => (t.cert === undefined) === (t.key === undefined), { path: ['key'], message: 'set both cert and key, or neither' })
  .describe('TLS settings for https:// etcd endpoints.');

const etcdDiscovery = z
  .strictObject({
    endpoints: z.array(ETCD_ENDPOINT).min(1).describe('Client URLs of the etcd cluster holding the registry.'),
    prefix: z
      .string()
      .regex(/^\/(?:[^\s]*\/)?$/, 'a prefix starts and ends with "/", e.g. /sluice/services/')
      .default('/sluice/services/')
      .describe('Key prefix of the registry: an instance of service S registers under <prefix>S/<id>.'),
    service: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/, 'a service name is letters, digits, "_", "." or "-"').describe('The service whose registered instances are the targets.'),
    requestTimeout: duration.prefault('2s').describe('Deadline of each etcd request.'),
    username: z.string().min(1).optional().describe('etcd user, when etcd has authentication enabled (with password).'),
    password: z.string().min(1).optional().describe('Password of the etcd user.'),
    tls: etcdTls.optional(),
  })
  .refine((e) => (e.username === undefined) === (e.password === undefined), { path: ['password'], message: 'set both username and password, or neither' })
  .describe('Targets from the etcd registry: each instance registers itself under a lease with a heartbeat (`sluice register`, or `register()` from `sluice/register`), and is removed when it stops or its lease expires.');

const kubernetesDiscovery = z
  .strictObject({
    service: z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'a Service name is a DNS label: lower-case letters, digits and "-"').describe('The Service whose endpoints are the targets.'),
    namespace: z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'a namespace is a DNS label').default('default').describe('The Service\'s namespace.'),
    port: z
      .union([z.string().min(1), z.number().int().min(1).max(65_535)])
      .optional()
      .describe('Which port of the endpoints: its name in the Service ("http") or its number (default: the first port of each EndpointSlice).'),
    scheme: z.enum(['http', 'https']).default('http').describe('Scheme of the targets found.'),
    kubeconfig: z
      .string()
      .min(1)
      .optional()
      .describe('A kubeconfig file (absolute, or relative to the working directory). Default: the pod\'s service account when running in a cluster, else $KUBECONFIG or ~/.kube/config.'),
  })
  .describe('Targets from the Kubernetes EndpointSlices of a Service (listed, then watched), through the Kubernetes client: every ready endpoint address on the chosen port.');

export const discoverySchema = z
  .union([z.strictObject({ dns: dnsDiscovery }), z.strictObject({ etcd: etcdDiscovery }), z.strictObject({ kubernetes: kubernetesDiscovery })])
  .describe('Where the targets come from instead of `targets`: { dns: … }, { etcd: … } or { kubernetes: … }. Changes apply to new requests at once, without a reload; when discovery fails, the last known targets stay.');

export type DiscoveryConfig = z.output<typeof discoverySchema>;
export type DnsDiscoveryConfig = z.output<typeof dnsDiscovery>;
export type EtcdDiscoveryConfig = z.output<typeof etcdDiscovery>;
export type KubernetesDiscoveryConfig = z.output<typeof kubernetesDiscovery>;
