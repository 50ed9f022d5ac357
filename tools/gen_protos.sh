#!/usr/bin/env bash
# Regenerates the C++ protobuf and grpc code in Sources/CGRPCShim/generated/ from protos/.
#
#   tools/gen_protos.sh           rewrite the committed generated files
#   tools/gen_protos.sh --check   fail if the committed files differ from a fresh generation (CI)
#
# The generated code is committed (rather than made by a SwiftPM build-tool plugin) because
# that plugin path needs experimentalCGen and breaks under --build-system swiftbuild.
# Generated headers pin the protobuf version they were made with, so regenerate with the
# same protoc as the libprotobuf the package links (Debian 12: protoc 3.21.12, grpc 1.51.1).
set -euo pipefail

usage() {
  echo "usage: $0 [--check]" >&2
  exit 2
}

check=false
case "${1:-}" in
  "") ;;
  --check) check=true ;;
  *) usage ;;
esac
[[ $# -le 1 ]] || usage

repository_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
proto_root="$repository_root/protos"
generated_root="$repository_root/Sources/CGRPCShim/generated"
# Written by hand and kept: everything else under generated/ is the output of this script.
kept_file="README.md"

protoc="${PROTOC:-protoc}"
grpc_plugin="${GRPC_CPP_PLUGIN:-$(command -v grpc_cpp_plugin || true)}"
command -v "$protoc" >/dev/null || { echo "error: protoc not found (apt-get install protobuf-compiler)" >&2; exit 1; }
[[ -n "$grpc_plugin" && -x "$grpc_plugin" ]] || {
  echo "error: grpc_cpp_plugin not found (apt-get install protobuf-compiler-grpc)" >&2
  exit 1
}

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

# Paths relative to protos/ so that includes read "recsys/v1/recommender.pb.h"; sorted so the
# output does not depend on the file system's order.
proto_files=()
while IFS= read -r proto_file; do
  proto_files+=("$proto_file")
done < <(cd "$proto_root" && find . -name '*.proto' | sed 's|^\./||' | LC_ALL=C sort)
[[ ${#proto_files[@]} -gt 0 ]] || { echo "error: no .proto files under $proto_root" >&2; exit 1; }

# Messages for every file; service stubs only for the services the shim serves itself. Files
# under grpc/ (health) describe services grpc++ already implements: compiling only their
# messages lets reflection describe them without a second implementation.
service_files=()
for proto_file in "${proto_files[@]}"; do
  [[ "$proto_file" == grpc/* ]] || service_files+=("$proto_file")
done

(cd "$proto_root" && "$protoc" --proto_path=. --cpp_out="$scratch" "${proto_files[@]}")
if [[ ${#service_files[@]} -gt 0 ]]; then
  (cd "$proto_root" && "$protoc" \
    --proto_path=. \
    --grpc_out="$scratch" \
    --plugin=protoc-gen-grpc="$grpc_plugin" \
    "${service_files[@]}")
fi

if $check; then
  if ! summary="$(diff -rq -x "$kept_file" "$generated_root" "$scratch")"; then
    echo "error: Sources/CGRPCShim/generated/ does not match protos/ (checked with $("$protoc" --version)):" >&2
    echo "$summary" | sed -e "s|$generated_root|committed|g" -e "s|$scratch|regenerated|g" >&2
    echo "Run tools/gen_protos.sh and commit the result." >&2
    exit 1
  fi
  echo "Sources/CGRPCShim/generated/ matches protos/."
  exit 0
fi

# Replace everything but the README, so files of a removed .proto do not linger.
find "$generated_root" -mindepth 1 -maxdepth 1 ! -name "$kept_file" -exec rm -rf {} +
cp -R "$scratch"/. "$generated_root"/
echo "Generated $(cd "$scratch" && find . -type f | wc -l) files in Sources/CGRPCShim/generated/ from ${#proto_files[@]} proto file(s)."
