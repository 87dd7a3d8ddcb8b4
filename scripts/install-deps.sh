#!/usr/bin/env bash
# Installs every Debian 12 package the build, the tests and the demo need.
# Idempotent: packages already present are skipped, and `apt-get update` runs at most once,
# only when something is missing. Needs root (or sudo) when anything must be installed.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git ca-certificates
  protobuf-compiler protobuf-compiler-grpc libprotobuf-dev
  libgrpc++-dev libgrpc-dev
  libabsl-dev
  libcurl4-openssl-dev libssl-dev openssl
  libgtest-dev libgmock-dev
  libcpp-httplib-dev
  prometheus-cpp-dev
  golang-github-gogo-googleapis-dev
  nodejs npm
  kubernetes-client
)

# `--fuzz` (make fuzz, tests/fuzz/README.md): also clang 14 with libFuzzer and the ASan/UBSan
# runtimes (libclang-rt-14-dev) and llvm-symbolizer for readable reports.
if [ "${1:-}" = "--fuzz" ]; then
  packages+=(clang libclang-rt-14-dev llvm-14)
fi

missing=()
for p in "${packages[@]}"; do
  # nodejs/npm may come from outside Debian's packages on a developer machine: a working
  # `node` and `npm` on PATH is as good as the package.
  case "$p" in
    nodejs) command -v node >/dev/null 2>&1 && continue ;;
    npm) command -v npm >/dev/null 2>&1 && continue ;;
    # kubectl renders the k8s/ overlays (its built-in kustomize); any kubectl on PATH will do
    # (Debian's package and other kubectl packages all ship /usr/bin/kubectl).
    kubernetes-client) command -v kubectl >/dev/null 2>&1 && continue ;;
  esac
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -q
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
