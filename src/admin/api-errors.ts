// Every error code the admin API answers with, declared once with its status. docs/admin-api.md lists them
// (test/admin-openapi.test.ts checks that every code here is documented there). Clients branch on `code`.
export const ADMIN_ERRORS = {
  bad_request: { status: 400, meaning: 'A parameter or the body is malformed (the message says which).' },
  unauthorized: { status: 401, meaning: 'A token is configured and the request has no valid `Authorization: Bearer …`.' },
  forbidden_host: {
    status: 403,
    meaning: 'No token is configured and the Host header is not a loopback name: refused so that a web page cannot reach the admin API by DNS rebinding.',
  },
  not_found: { status: 404, meaning: 'No such endpoint, route, upstream or version.' },
  method_not_allowed: { status: 405, meaning: 'The endpoint exists but not with this method; `Allow` lists the methods it has.' },
  version_conflict: { status: 409, meaning: '`If-Match` names a version that is no longer the current one; the body and `ETag` give the current version.' },
  rollout_in_progress: {
    status: 409,
    meaning: 'A staged rollout is observing a candidate version (etcd): config writes, rollbacks and new rollouts wait until it is promoted or rolled back; the message names it (`sluice rollout status`, `promote`, `abort`).',
  },
  rollout_needs_etcd: {
    status: 409,
    meaning: 'Staged rollouts need instances that share their config through etcd (`store.etcd`, docs/distributed.md); this instance keeps its config in a file.',
  },
  payload_too_large: { status: 413, meaning: 'The body is larger than 4 MiB.' },
  unsupported_media_type: { status: 415, meaning: 'The body is neither YAML nor JSON.' },
  invalid_config: { status: 422, meaning: 'The config does not validate; `errors` lists every problem with line, column and path.' },
  apply_failed: { status: 422, meaning: 'The config is valid but could not be put into service (a port that cannot be bound, a CA file that cannot be read); the running config keeps serving.' },
  precondition_required: { status: 428, meaning: 'A write without `If-Match`: send the version you based it on (or `*` to overwrite whatever is current).' },
  store_failed: { status: 500, meaning: 'The new version could not be written to the store or the config file; the previous config was put back.' },
  internal_error: { status: 500, meaning: 'A bug in Sluice; the log has the details.' },
  not_ready: { status: 503, meaning: 'No config has been loaded yet.' },
  store_unavailable: {
    status: 503,
    meaning: 'The shared config store (etcd) cannot be reached: nothing was changed, the running config keeps serving; try again when it is back (`/readyz` says `degraded`).',
  },
} as const satisfies Record<string, { status: number; meaning: string }>;

export type AdminErrorCode = keyof typeof ADMIN_ERRORS;
