import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';

/** How a server connection uses TLS, from the URL's `sslmode` as libpq reads it. */
export interface TlsMode {
  /** Send an SSLRequest first. */
  request: boolean;
  /** Refuse to go on in plaintext when the server answers 'N'. */
  required: boolean;
  /** Options for tls.connect once the server answered 'S'. */
  options: ConnectionOptions;
}

export type SslMode = 'disable' | 'allow' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';
const MODES: readonly SslMode[] = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'];

/**
 * libpq's sslmode semantics (https://www.postgresql.org/docs/current/libpq-ssl.html):
 * `disable` and `allow` plaintext (allow's retry with TLS is not done); `prefer` TLS when the
 * server offers it, unverified; `require` TLS, unverified, unless `sslrootcert` is given, which
 * makes it `verify-ca`, as in libpq; `verify-ca` the chain is checked against `sslrootcert`
 * (required, as libpq requires a root certificate); `verify-full` the chain (against
 * `sslrootcert`, or the system CAs without it) and the host name or IP address. No sslmode:
 * plaintext. `sslcert`/`sslkey` give a client certificate.
 */
export function tlsMode(
  parsed: { sslmode?: string; sslrootcert?: string; ssl?: unknown },
  host: string,
): TlsMode {
  const raw = parsed.sslmode ?? (parsed.ssl ? 'require' : 'disable');
  const mode = MODES.find((m) => m === raw);
  if (!mode) throw new Error(`sslmode=${raw} is not one of ${MODES.join(', ')}`);
  if (mode === 'disable' || mode === 'allow' || parsed.ssl === false || host.startsWith('/')) {
    return { request: false, required: false, options: {} };
  }
  const given =
    typeof parsed.ssl === 'object' && parsed.ssl !== null ? (parsed.ssl as ConnectionOptions) : {};
  const verify =
    mode === 'verify-full'
      ? 'full'
      : mode === 'verify-ca' || (mode === 'require' && parsed.sslrootcert)
        ? 'ca'
        : null;
  const options: ConnectionOptions = {
    ca: given.ca,
    cert: given.cert,
    key: given.key,
    // Checked against this name: a host name, or an IP address against the certificate's IP SANs.
    host,
    servername: isIP(host) ? undefined : host,
    rejectUnauthorized: verify !== null,
  };
  // verify-ca trusts any name the CA signed.
  if (verify === 'ca') options.checkServerIdentity = () => undefined;
  return { request: true, required: mode !== 'prefer', options };
}
