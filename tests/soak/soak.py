#!/usr/bin/env python3
"""Bounded soak of the gateway (tests/soak/README.md; `make soak`).

Starts aliyun-iot-emulator and otaverify-gateway from a build folder on loopback, offers
otaverify-load's steady rate of CreateVerifyJob calls (a fresh firmware per call), keeps two
`otaverify watch` streams open on slow verify jobs, and arms one emulator fault every
--fault_every seconds. Every --interval seconds it samples the gateway's resident memory
(VmRSS), open file descriptors (/proc/<pid>/fd) and threads (/proc/<pid>/status) and prints a
row. At the end it compares the average of the last third of the samples with the first third
(the first sample, taken during warm-up, left out) and exits non-zero if one grew past its
bound, if the gateway died or did not stop cleanly on SIGTERM, or if the load generator
failed. Everything runs under a temporary folder that is removed at the end.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

# Fault rotation: (name, count, delay_ms). The gateway's breaker opens after 5 consecutive
# upstream failures: the 503 burst opens it once (its probe 5 s later meets the sixth 503, the
# next one 10 s after that closes it again); the other bursts stay below the threshold and
# exercise retries, abandoned creates and the stale keep-alive race.
FAULTS = [
    ("http_503", 6, None),
    ("throttling", 20, None),
    ("reset_before_response", 3, None),
    ("delay", 3, 3000),  # past the load's 2 s call deadline: abandoned creates
    ("close_after_response", 5, None),
    ("http_500", 3, None),
    ("truncated_body", 3, None),
    ("process_then_reset", 3, None),
]

EMULATOR_KEY_ID = "emulator-access-key-id"
EMULATOR_SECRET = "emulator-access-key-secret"


def log(message):
    print(f"soak: {message}", flush=True)


class Process:
    """A child whose combined output goes to a file; the address of its "listening" line."""

    def __init__(self, name, argv, work, env=None):
        self.name = name
        self.log_path = os.path.join(work, f"{name}.log")
        self.log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen(argv, stdout=self.log_file, stderr=subprocess.STDOUT,
                                     env=env, start_new_session=True)

    def address(self, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with open(self.log_path, "rb") as f:
                for line in f:
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        continue
                    if entry.get("message") == "listening" and "address" in entry:
                        return entry["address"]
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} printed no listening line; see {self.log_path}")

    def stop(self, timeout=30):
        """SIGTERM, then the exit status (SIGKILL after `timeout`: reported as None)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return None
        return self.proc.returncode


def write_seed(path, firmwares, watch_firmwares):
    """The load product of Harness::WriteLoadSeed, and a product whose jobs last for watching."""
    load = [{"firmware_id": f"load-fw-{i}", "status": 0} for i in range(firmwares)]
    watch = [{"firmware_id": f"watch-fw-{i}", "status": 0} for i in range(watch_firmwares)]
    seed = {
        "instances": [],
        "products": [
            {"product_key": "a1LoadProduct", "iot_instance_id": "",
             "devices": ["load-device-1"], "firmwares": load},
            {"product_key": "a1WatchProduct", "iot_instance_id": "",
             "devices": ["watch-ok-1", "watch-ok-2", "watch-fail", "watch-stall"],
             "device_behaviors": {
                 "watch-fail": {"behavior": "fail", "percent": 60},
                 "watch-stall": {"behavior": "timeout", "percent": 30}},
             "firmwares": watch},
        ],
    }
    with open(path, "w") as f:
        json.dump(seed, f)


def sample(pid):
    """(RSS KiB, open fds, threads) of a live process; None once it is gone."""
    try:
        rss = threads = None
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("Threads:"):
                    threads = int(line.split()[1])
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        return rss, fds, threads
    except (OSError, ValueError):
        return None


def arm_fault(emulator_url, fault, count, delay_ms):
    body = {"fault": fault, "count": count}
    if delay_ms is not None:
        body["delay_ms"] = delay_ms
    request = urllib.request.Request(f"{emulator_url}/_emulator/faults",
                                     data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as reply:
        reply.read()


def emulator_stats(emulator_url):
    with urllib.request.urlopen(f"{emulator_url}/_emulator/stats", timeout=5) as reply:
        return json.loads(reply.read())


class Watchers:
    """Creates a slow verify job, follows it with `count` watchers, again until stopped."""

    def __init__(self, cli, target, count, stop):
        self.cli, self.target, self.count, self.stop = cli, target, count, stop
        self.jobs = 0
        self.watches_ok = 0
        self.watches_failed = 0
        self.creates_failed = 0
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        firmware = 0
        while not self.stop.is_set():
            # 15 emulated minutes (15 s): the stalled device times out and the job ends.
            create = subprocess.run(
                [self.cli, "create", "--target", self.target, "--json",
                 "--product_key", "a1WatchProduct", "--firmware_id", f"watch-fw-{firmware}",
                 "--device", "watch-ok-1", "--device", "watch-ok-2", "--device", "watch-fail",
                 "--device", "watch-stall", "--timeout_minutes", "15"],
                capture_output=True, timeout=60)
            firmware += 1
            if create.returncode != 0:
                self.creates_failed += 1
                self.stop.wait(2)
                continue
            job = json.loads(create.stdout)["jobId"]
            self.jobs += 1
            watchers = [subprocess.Popen(
                [self.cli, "watch", "--target", self.target, "--job_id", job, "--tty", "never",
                 "--deadline", "60s"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                for _ in range(self.count)]
            for watcher in watchers:
                try:
                    status = watcher.wait(90)
                except subprocess.TimeoutExpired:
                    watcher.kill()
                    status = watcher.wait()
                if status == 0:
                    self.watches_ok += 1
                else:
                    self.watches_failed += 1


def mean(values):
    return sum(values) / len(values)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build_dir", default="build")
    parser.add_argument("--seconds", type=int, default=600)
    parser.add_argument("--rate", type=float, default=100, help="offered creates per second")
    parser.add_argument("--interval", type=int, default=10, help="seconds between samples")
    parser.add_argument("--fault_every", type=int, default=30, help="seconds between faults")
    parser.add_argument("--watchers", type=int, default=2)
    # Bounds on last third vs first third: RSS must grow past both to fail.
    parser.add_argument("--rss_percent", type=float, default=20)
    parser.add_argument("--rss_mib", type=float, default=10)
    parser.add_argument("--fds", type=int, default=10)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    if args.seconds < 4 * args.interval:
        parser.error("--seconds must cover at least 4 samples")

    build = os.path.abspath(args.build_dir)
    binaries = {
        "emulator": os.path.join(build, "emulator", "aliyun-iot-emulator"),
        "gateway": os.path.join(build, "service", "otaverify-gateway"),
        "cli": os.path.join(build, "client", "otaverify"),
        "load": os.path.join(build, "client", "otaverify-load"),
    }
    for name, path in binaries.items():
        if not os.access(path, os.X_OK):
            log(f"{path} is missing (build first)")
            return 2

    work = tempfile.mkdtemp(prefix="otaverify-soak-")
    failures = []
    processes = []
    stop = threading.Event()
    try:
        firmwares = int(args.rate * args.seconds * 1.1) + 1000
        seed = os.path.join(work, "seed.json")
        write_seed(seed, firmwares, args.seconds // 20 + 10)

        emulator = Process("emulator", [binaries["emulator"], "--listen=127.0.0.1:0",
                                        f"--seed={seed}"], work)
        processes.append(emulator)
        emulator_url = "http://" + emulator.address()
        env = dict(os.environ)
        env.update({
            "ALIBABA_CLOUD_ACCESS_KEY_ID": EMULATOR_KEY_ID,
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": EMULATOR_SECRET,
            "ALIBABA_CLOUD_SECURITY_TOKEN": "",
            "ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true",
        })
        gateway = Process("gateway", [
            binaries["gateway"], "--listen=127.0.0.1:0", "--metrics_listen=127.0.0.1:0",
            f"--endpoint={emulator_url}", "--allow_insecure_endpoint",
            "--upstream_quotas=off"], work, env=env)
        processes.append(gateway)
        target = gateway.address()
        pid = gateway.proc.pid
        log(f"gateway pid {pid} on {target}, emulator on {emulator_url}; {args.seconds} s at "
            f"{args.rate:g} creates/s, {args.watchers} watchers, a fault every "
            f"{args.fault_every} s")

        load_out = open(os.path.join(work, "load.json"), "wb")
        load = subprocess.Popen(
            [binaries["load"], f"--target={target}", f"--rate={args.rate}",
             f"--duration={args.seconds}s", f"--firmwares={firmwares}", "--deadline=2s"],
            stdout=load_out, stderr=subprocess.STDOUT)
        watchers = Watchers(binaries["cli"], target, args.watchers, stop)
        watchers.thread.start()

        samples = []  # (seconds, rss KiB, fds, threads)
        faults_armed = 0
        start = time.monotonic()
        next_sample = start + args.interval
        next_fault = start + args.fault_every
        end = start + args.seconds
        print(f"{'t_s':>5} {'rss_mib':>8} {'fds':>5} {'threads':>7}", flush=True)
        while True:
            now = time.monotonic()
            if now >= next_fault and now < end:
                fault, count, delay_ms = FAULTS[faults_armed % len(FAULTS)]
                try:
                    arm_fault(emulator_url, fault, count, delay_ms)
                    faults_armed += 1
                except OSError as e:
                    failures.append(f"arming {fault} failed: {e}")
                next_fault += args.fault_every
            if now >= next_sample:
                s = sample(pid)
                if s is None or gateway.proc.poll() is not None:
                    failures.append(f"the gateway died (exit status {gateway.proc.poll()})")
                    break
                t = round(now - start)
                samples.append((t, *s))
                print(f"{t:>5} {s[0] / 1024:>8.1f} {s[1]:>5} {s[2]:>7}", flush=True)
                if next_sample >= end:
                    break
                next_sample += args.interval
            time.sleep(max(0.0, min(next_sample, next_fault) - time.monotonic()))

        stop.set()
        try:
            load_status = load.wait(60)
        except subprocess.TimeoutExpired:
            load.kill()
            load_status = "killed"
        load_out.close()
        with open(os.path.join(work, "load.json")) as f:
            load_result = f.read().strip()
        log(f"load: exit status {load_status}: {load_result}")
        if load_status != 0:
            failures.append(f"otaverify-load exited {load_status}")
        watchers.thread.join(30)  # the job in progress ends within 15 s
        log(f"watch: {watchers.jobs} jobs, {watchers.watches_ok} watches ended OK, "
            f"{watchers.watches_failed} failed, {watchers.creates_failed} creates failed")
        if watchers.jobs == 0 or watchers.watches_ok == 0:
            failures.append("no watch completed")
        try:
            stats = emulator_stats(emulator_url)
            log(f"emulator: {stats.get('requests_total')} requests, faults injected "
                f"{json.dumps(stats.get('faults_injected', {}), sort_keys=True)}, "
                f"{stats.get('connections_accepted')} connections accepted")
        except OSError as e:
            log(f"emulator stats unavailable: {e}")

        if gateway.proc.poll() is None:
            status = gateway.stop()
            if status != 0:
                failures.append(f"the gateway exited {status} on SIGTERM (expected 0)")
        measured = samples[1:]  # the first sample is warm-up
        if len(measured) >= 3:
            third = len(measured) // 3
            first, last = measured[:third], measured[-third:]
            print(f"{'':>14} {'rss_mib':>8} {'fds':>5} {'threads':>7}")
            averages = []
            for label, rows in (("first third", first), ("last third", last)):
                avg = [mean([r[i] for r in rows]) for i in (1, 2, 3)]
                averages.append(avg)
                print(f"{label:>14} {avg[0] / 1024:>8.1f} {avg[1]:>5.1f} {avg[2]:>7.1f}")
            f_rss, f_fds, f_threads = averages[0]
            l_rss, l_fds, l_threads = averages[1]
            if (l_rss > f_rss * (1 + args.rss_percent / 100) and
                    l_rss - f_rss > args.rss_mib * 1024):
                failures.append(f"RSS grew {f_rss / 1024:.1f} -> {l_rss / 1024:.1f} MiB "
                                f"(bound +{args.rss_percent:g} % and +{args.rss_mib:g} MiB)")
            if l_fds - f_fds > args.fds:
                failures.append(f"open fds grew {f_fds:.1f} -> {l_fds:.1f} (bound +{args.fds})")
            if l_threads - f_threads > args.threads:
                failures.append(
                    f"threads grew {f_threads:.1f} -> {l_threads:.1f} (bound +{args.threads})")
        else:
            failures.append("too few samples to compare")
        if samples:
            a, b = samples[0], samples[-1]
            log(f"first sample t={a[0]} s: rss {a[1] / 1024:.1f} MiB, {a[2]} fds, {a[3]} threads; "
                f"last sample t={b[0]} s: rss {b[1] / 1024:.1f} MiB, {b[2]} fds, {b[3]} threads")
    except (OSError, RuntimeError, ValueError) as e:
        failures.append(str(e))
    finally:
        stop.set()
        for p in processes:
            p.stop()
        if failures:
            # Keep the logs of a failed run.
            for p in processes:
                log(f"{p.name} log: {p.log_path}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    for failure in failures:
        log(f"FAIL: {failure}")
    log("PASS" if not failures else "FAILED")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
