# protoc (Debian) and the pinned Go generators; verifies that the committed plugin
# protocol code in sdk/internal/proto matches its .proto files.
if ! command -v protoc >/dev/null 2>&1; then
  apt-get install -y --no-install-recommends protobuf-compiler >/dev/null \
    || { apt-get update >/dev/null && apt-get install -y --no-install-recommends protobuf-compiler >/dev/null; }
fi
./scripts/gen-proto.sh --check
