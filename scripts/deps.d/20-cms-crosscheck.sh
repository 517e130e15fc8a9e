# CMS cross-checks (core/oftp/cms): OpenSSL verifies and decrypts what we write and
# writes what we read; Bouncy Castle (Java) checks CompressedData, which this OpenSSL
# build cannot do (no zlib). Installs only what is missing.
cms_pkgs=()
command -v openssl >/dev/null 2>&1 || cms_pkgs+=(openssl)
command -v java >/dev/null 2>&1 || cms_pkgs+=(openjdk-17-jre-headless)
[ -e /usr/share/java/bcprov.jar ] || cms_pkgs+=(libbcprov-java)
[ -e /usr/share/java/bcpkix.jar ] && [ -e /usr/share/java/bcutil.jar ] || cms_pkgs+=(libbcpkix-java libbcutil-java)
if [ ${#cms_pkgs[@]} -gt 0 ]; then
  apt-get install -y --no-install-recommends "${cms_pkgs[@]}" >/dev/null \
    || { apt-get update >/dev/null && apt-get install -y --no-install-recommends "${cms_pkgs[@]}" >/dev/null; }
fi
unset cms_pkgs
