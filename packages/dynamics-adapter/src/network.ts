/**
 * What went wrong when a request got no answer at all, told from the error fetch threw (its `cause`
 * holds Node's error with a `code`), and whether trying again can help.
 */
export interface NetworkFailure {
  /** Node's or undici's code (`ECONNREFUSED`, `ENOTFOUND`, `CERT_HAS_EXPIRED`...), or null. */
  code: string | null;
  /** One line for people, e.g. `connect ECONNREFUSED 127.0.0.1:9`. */
  text: string;
  /**
   * True when the same request cannot succeed by being sent again: an unknown host, a refused
   * connection (to a host that never answered), a certificate or TLS failure, a port fetch refuses.
   */
  permanent: boolean;
}

/** DNS said the name does not exist; EAI_AGAIN (a DNS server that did not answer) is transient. */
const PERMANENT_CODES = new Set(['ENOTFOUND', 'ERR_INVALID_URL', 'UND_ERR_INVALID_ARG', 'EPROTO']);
/** Certificate and TLS failures: the server's identity or protocol, which a retry does not change. */
const TLS_CODE = /CERT|^ERR_TLS_|^ERR_SSL_|^SSL_|^HOSTNAME_MISMATCH$/;
/** A connection refused: nothing listens there. Transient only once the host has answered before (a restart). */
const REFUSED = 'ECONNREFUSED';

interface ErrorLike {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  cause?: unknown;
  errors?: unknown;
}

/** The innermost error of a cause chain (and the first of an AggregateError's), where Node puts the code. */
function innermost(error: unknown): ErrorLike | null {
  let current: unknown = error;
  let last: ErrorLike | null = null;
  for (let depth = 0; depth < 8 && typeof current === 'object' && current !== null; depth += 1) {
    const e = current as ErrorLike;
    last = e;
    if (e.cause !== undefined) current = e.cause;
    else if (Array.isArray(e.errors) && e.errors.length > 0 && !(typeof e.message === 'string' && e.message !== '')) current = e.errors[0];
    else break;
  }
  return last;
}

/**
 * Describes a failure to get an answer. `answeredBefore`: the host has answered this client before,
 * so a refused connection is a restart rather than a wrong address.
 */
export function describeNetworkFailure(error: unknown, answeredBefore = false): NetworkFailure {
  const top = error as ErrorLike | null;
  if (typeof top === 'object' && top !== null && top.name === 'TimeoutError') {
    return { code: 'TIMEOUT', text: 'no answer before the request timeout', permanent: false };
  }
  const inner = innermost(error);
  const code = typeof inner?.code === 'string' ? inner.code : null;
  let text = typeof inner?.message === 'string' && inner.message !== '' ? (inner.message.split('\n')[0] ?? '') : String(error);
  // OpenSSL's messages are library internals; its code says it better.
  if (code && /:error:[0-9A-F]+:/.test(text)) text = `TLS failure (${code})`;
  else if (code && !text.includes(code)) text = `${text} (${code})`;
  // undici refuses the ports the Fetch standard blocks (1, 9, 22, 25, ...) without trying them.
  const badPort = code === null && text === 'bad port';
  if (badPort) text = 'fetch refuses this port (a "bad port" of the Fetch standard)';
  const permanent = badPort || (code !== null && (PERMANENT_CODES.has(code) || TLS_CODE.test(code) || (code === REFUSED && !answeredBefore)));
  return { code, text, permanent };
}
