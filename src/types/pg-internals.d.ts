// node-postgres ships its SCRAM client, MD5 hashing and value serialization as plain modules
// without type declarations; poolpilot's own server connection reuses them rather than copies.

declare module 'pg/lib/crypto/sasl.js' {
  namespace sasl {
    interface Session {
      mechanism: string;
      response: string;
    }
  }
  const sasl: {
    startSession(mechanisms: string[], stream: unknown): sasl.Session;
    continueSession(
      session: sasl.Session,
      password: string,
      serverData: string,
      stream: unknown,
    ): Promise<void>;
    finalizeSession(session: sasl.Session, serverData: string): void;
  };
  export default sasl;
}

declare module 'pg/lib/crypto/utils.js' {
  const utils: {
    postgresMd5PasswordHash(user: string, password: string, salt: Buffer): Promise<string>;
  };
  export default utils;
}

declare module 'pg/lib/utils.js' {
  const utils: {
    prepareValue(value: unknown): string | Buffer | null;
  };
  export default utils;
}

declare module 'pg/lib/crypto/cert-signatures.js' {
  /** The hash of a DER certificate's signature algorithm (SHA-256, SHA-1, MD5, ...), as RFC 5929 needs. */
  export function signatureAlgorithmHashFromCertificate(cert: Buffer): string;
}
