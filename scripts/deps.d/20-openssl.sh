# OpenSSL: the certs and transport tests cross-check PKCS#12 bundles, CRL
# revocation verdicts and TLS handshakes against it as an independent implementation.
if ! command -v openssl >/dev/null 2>&1; then
  apt-get install -y --no-install-recommends openssl >/dev/null \
    || { apt-get update >/dev/null && apt-get install -y --no-install-recommends openssl >/dev/null; }
fi
