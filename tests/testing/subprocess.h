// ChildProcess: runs one of the project's binaries (gateway, emulator, CLI) for integration
// tests, captures its stdout lines, and finds the address it logged as
//   {"message":"listening",...,"address":"127.0.0.1:PORT"}
// so tests can bind every server to 127.0.0.1:0.
//
// Not thread-safe; one test owns one ChildProcess. The destructor kills a still-running child.
#ifndef OTAVERIFY_TESTS_TESTING_SUBPROCESS_H_
#define OTAVERIFY_TESTS_TESTING_SUBPROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace otaverify::testing {

class ChildProcess {
 public:
  // Starts `argv` with the current environment plus `env` ("NAME=value", replacing an
  // inherited or earlier entry of the same name); stdout and stderr are captured together.
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Start(
      std::vector<std::string> argv, std::vector<std::string> env = {});
  ~ChildProcess();

  // Waits for the "listening" line and returns its address.
  absl::StatusOr<std::string> WaitForAddress(absl::Duration timeout = absl::Seconds(20));
  // Sends `signal` and waits for the exit; returns the exit status (128 + n if killed by n).
  absl::StatusOr<int> Stop(int signal, absl::Duration timeout = absl::Seconds(30));
  // Waits for the process to exit on its own.
  absl::StatusOr<int> Wait(absl::Duration timeout = absl::Seconds(30));
  pid_t pid() const { return pid_; }
  // Everything printed so far.
  std::string Output() const;
  // Waits until the output contains `needle` (it reaches us through a pipe, a little after the
  // process wrote it); false after `timeout`.
  bool WaitForOutput(absl::string_view needle, absl::Duration timeout = absl::Seconds(5));
  // Everything printed, once the output pipe is closed (or `timeout` passed).
  std::string FinalOutput(absl::Duration timeout = absl::Seconds(5));

 private:
  ChildProcess(pid_t pid, int out_fd);
  void ReadLoop();

  const pid_t pid_;
  const int out_fd_;
  bool exited_ = false;
  int exit_status_ = -1;
  std::thread reader_;
  mutable absl::Mutex mu_;
  std::string output_ ABSL_GUARDED_BY(mu_);
  bool eof_ ABSL_GUARDED_BY(mu_) = false;
};

// Peak resident set size (VmHWM) of a running process, in KiB; -1 if unreadable.
long PeakRssKib(pid_t pid);

// Runs a command to completion and returns (exit status, output).
struct CommandResult {
  int exit_status = -1;
  std::string output;
};
absl::StatusOr<CommandResult> RunCommand(std::vector<std::string> argv,
                                         std::vector<std::string> env = {},
                                         absl::Duration timeout = absl::Seconds(60));

}  // namespace otaverify::testing

#endif  // OTAVERIFY_TESTS_TESTING_SUBPROCESS_H_
