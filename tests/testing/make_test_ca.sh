#!/bin/sh
# make_test_ca.sh OUT_DIR: throwaway TLS material for tests, generated at test time (nothing but
# this script is committed).
#
#   ca.pem, ca.key          a self-signed test CA
#   server.pem, server.key  a server certificate for 127.0.0.1 and localhost signed by it
#                           (subjectAltName IP:127.0.0.1, DNS:localhost)
#   other-ca.pem            an unrelated CA, for "wrong CA" tests (its key is discarded)
#
# EC P-256 keys, so it takes a few tens of milliseconds. Idempotent: if every output exists it
# does nothing; otherwise it regenerates all of them (a half-written set is never reused).
# Files are written in a temporary directory and renamed into place, so a crash never leaves a
# half-written file; two concurrent runs on one OUT_DIR may mix sets, so give each test its own
# directory. Needs the openssl command (OpenSSL 1.1.1 or later).
set -eu

if [ "$#" -ne 1 ]; then
  echo "usage: $0 OUT_DIR" >&2
  exit 2
fi
out="$1"
mkdir -p "$out"

if [ -s "$out/ca.pem" ] && [ -s "$out/ca.key" ] && [ -s "$out/server.pem" ] &&
   [ -s "$out/server.key" ] && [ -s "$out/other-ca.pem" ]; then
  exit 0
fi

tmp="$(mktemp -d "$out/.make_test_ca.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

ec_key() {
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
}

# CA certificates: basicConstraints CA:TRUE and keyCertSign, as OpenSSL's verifier requires.
make_ca() {  # key cert common_name
  ec_key "$1"
  openssl req -x509 -new -key "$1" -out "$2" -days 3650 -sha256 -subj "/CN=$3" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

make_ca "$tmp/ca.key" "$tmp/ca.pem" "OtaVerify Test CA"
make_ca "$tmp/other-ca.key" "$tmp/other-ca.pem" "OtaVerify Other Test CA"

ec_key "$tmp/server.key"
openssl req -new -key "$tmp/server.key" -out "$tmp/server.csr" -subj "/CN=localhost" 2>/dev/null
cat > "$tmp/server.ext" <<'EOF'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost
EOF
openssl x509 -req -in "$tmp/server.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" \
  -CAcreateserial -out "$tmp/server.pem" -days 825 -sha256 -extfile "$tmp/server.ext" 2>/dev/null

chmod 600 "$tmp/ca.key" "$tmp/server.key"
for f in ca.key ca.pem other-ca.pem server.key server.pem; do
  mv -f "$tmp/$f" "$out/$f"
done
