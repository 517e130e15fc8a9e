# xmlsec1: the certs tests sign Trust Service Status Lists with it, so that our
# XML signature check is tested against an independent XMLDSig implementation.
if ! command -v xmlsec1 >/dev/null 2>&1; then
  apt-get install -y --no-install-recommends xmlsec1 >/dev/null \
    || { apt-get update >/dev/null && apt-get install -y --no-install-recommends xmlsec1 >/dev/null; }
fi
