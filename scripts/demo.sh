#!/usr/bin/env bash
# Runs a real verification job end to end on loopback: starts the emulator and the gateway,
# creates a verify job through the CLI, prints the result, and stops both processes.
set -euo pipefail
build_dir="${1:-build}"
emulator="$build_dir/emulator/aliyun-iot-emulator"
gateway="$build_dir/service/otaverify-gateway"
cli="$build_dir/client/otaverify"
work=".demo"
mkdir -p "$work"

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

# Waits for the {"message":"listening",...,"address":"HOST:PORT"} line in log $1; prints it.
wait_for_address() {
  for _ in $(seq 1 100); do
    address=$(grep -o '"message":"listening".*"address":"[^"]*"' "$1" 2>/dev/null \
      | sed 's/.*"address":"\([^"]*\)"/\1/' | head -n1)
    if [ -n "$address" ]; then echo "$address"; return 0; fi
    sleep 0.1
  done
  echo "no listening line in $1:" >&2
  cat "$1" >&2
  return 1
}

# The emulator accepts its built-in demo key; the gateway signs with it. Demo values only.
# Simulated devices take 6 s to update, so the demo's verification ends quickly.
"$emulator" --listen 127.0.0.1:0 --device_update_time=6s >"$work/emulator.log" 2>&1 &
pids+=($!)
emulator_address=$(wait_for_address "$work/emulator.log")
echo "emulator  listening on $emulator_address (log: $work/emulator.log)"

ALIBABA_CLOUD_ACCESS_KEY_ID=emulator-access-key-id \
ALIBABA_CLOUD_ACCESS_KEY_SECRET=emulator-access-key-secret \
  "$gateway" --listen 127.0.0.1:0 --metrics_listen 127.0.0.1:0 \
  --endpoint "http://$emulator_address" \
  --allow_insecure_endpoint --watch_poll_interval=500ms >"$work/gateway.log" 2>&1 &
pids+=($!)
gateway_address=$(wait_for_address "$work/gateway.log")
echo "gateway   listening on $gateway_address (log: $work/gateway.log)"
echo

set -x
"$cli" verify --target "$gateway_address" \
  --product_key a1DemoProduct --firmware_id demo-firmware-1 \
  --device demo-device-1 --device demo-device-2 --device demo-device-3 \
  --tag env=demo --timeout_minutes 30 --download_protocol HTTPS
"$cli" status --target "$gateway_address" --firmware_id demo-firmware-1
{ set +x; } 2>/dev/null
echo
echo "demo: a firmware was verified on three simulated devices through the gateway; stopping"
