// Upstream failures classified once: which catalogue code the client sees, and what kind of failure it was
// for retry conditions. undici reports by `code`; TLS errors carry OpenSSL's codes.
import type { ErrorCode } from '../errors/catalogue.ts';
import type { AttemptFailure } from '../snapshot/retry-policy.ts';

export interface ClassifiedError {
  code: ErrorCode;
  failure: AttemptFailure;
}

const CONNECT_FAILED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL']);
const TLS = new Set([
  'ERR_TLS_CERT_ALTNAME_INVALID', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN', 'CERT_HAS_EXPIRED', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'ERR_SSL_WRONG_VERSION_NUMBER',
  'CERT_NOT_YET_VALID', 'ERR_TLS_HANDSHAKE_TIMEOUT',
]);

export function classifyUpstreamError(err: unknown): ClassifiedError {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    // undici refused the request before sending it (an invalid path or header value, produced by a rewrite or a
    // header operation): Sluice's doing, not the upstream's, and trying again would build the same request.
    if (code === 'UND_ERR_INVALID_ARG') return { code: 'internal_error', failure: 'invalid-request' };
    if (code === 'UND_ERR_CONNECT_TIMEOUT') return { code: 'upstream_connect_timeout', failure: 'connect-failure' };
    if (CONNECT_FAILED.has(code)) return { code: 'upstream_connect_failed', failure: 'connect-failure' };
    if (TLS.has(code) || code.startsWith('ERR_SSL_')) return { code: 'upstream_tls_error', failure: 'connect-failure' };
    if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return { code: 'upstream_timeout', failure: 'timeout' };
    if (code.startsWith('HPE_') || code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH' || code === 'UND_ERR_INFO') {
      return { code: 'upstream_bad_response', failure: 'bad-response' };
    }
  }
  // undici 8 builds its HTTPParserError with `code` undefined (it looks the llhttp error number up in a name → number
  // table), so a malformed status line or header is known only by the error's name.
  if ((err as { name?: unknown } | null)?.name === 'HTTPParserError') return { code: 'upstream_bad_response', failure: 'bad-response' };
  // Closed or reset after the connection was up (UND_ERR_SOCKET, ECONNRESET, EPIPE …).
  return { code: 'upstream_reset', failure: 'reset' };
}
