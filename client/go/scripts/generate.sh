#!/usr/bin/env bash
# Regenerates the committed Go stubs (pb/) from the repository's proto/ with pinned generators.
# Usage: client/go/scripts/generate.sh [OUT_DIR]
#   OUT_DIR defaults to client/go itself (rewrites pb/); the stub test passes a scratch folder
#   and compares. The generators are installed from the Go module proxy into GOBIN (default
#   build/gotools under the repository root), verified against the checksum database.
# Why committed: `go get` never runs protoc, so a Go module must ship its .pb.go files; this
# script and tests/interop/go/stubs_test.sh keep them equal to what proto/ generates.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
repo=$(cd "$here/../.." && pwd)
out=${1:-$here}
readonly PROTOC_GEN_GO=v1.36.12       # the module of google.golang.org/protobuf in go.mod
readonly PROTOC_GEN_GO_GRPC=v1.6.2
module=github.com/tconv/tconv/client/go

bin=${GOBIN:-$repo/build/gotools}
mkdir -p "$bin"
install_tool() {  # PACKAGE VERSION: once per version (a stamp names it)
  local name=${1##*/}
  [[ -x $bin/$name && -f $bin/.$name-$2 ]] && return
  GOBIN=$bin GOFLAGS=-modcacherw go install "$1@$2"
  touch "$bin/.$name-$2"
}
install_tool google.golang.org/protobuf/cmd/protoc-gen-go "$PROTOC_GEN_GO"
install_tool google.golang.org/grpc/cmd/protoc-gen-go-grpc "$PROTOC_GEN_GO_GRPC"

# proto/ carries no go_package options (it is shared with C++ and Python), so M flags map each
# file to its Go package. grpc.health.v1 is not generated: grpc-go ships it
# (google.golang.org/grpc/health/grpc_health_v1) and registering it twice would conflict.
maps=(
  "Minference/grpc_service.proto=$module/pb/inference"
  "Minference/model_config.proto=$module/pb/inference"
  "Mtconv/v1/layer_service.proto=$module/pb/tconvv1"
)
go_opts=(--go_opt=module="$module") grpc_opts=(--go-grpc_opt=module="$module")
for m in "${maps[@]}"; do go_opts+=(--go_opt="$m"); grpc_opts+=(--go-grpc_opt="$m"); done

mkdir -p "$out"
rm -rf "$out/pb"
protoc -I "$repo/proto" \
  --plugin=protoc-gen-go="$bin/protoc-gen-go" --plugin=protoc-gen-go-grpc="$bin/protoc-gen-go-grpc" \
  --go_out="$out" "${go_opts[@]}" --go-grpc_out="$out" "${grpc_opts[@]}" \
  inference/grpc_service.proto inference/model_config.proto tconv/v1/layer_service.proto
