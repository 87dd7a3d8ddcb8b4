#include "tests/testing/subprocess.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

extern char** environ;

namespace otaverify::testing {

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Start(std::vector<std::string> argv,
                                                                  std::vector<std::string> env) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return absl::InternalError("pipe failed");
  // The current environment, then `env`; a later entry replaces an earlier one of the same
  // name (execve would hand both to the child, and getenv would find the first).
  std::vector<std::string> environment;
  auto set = [&environment](std::string entry) {
    const std::string name = entry.substr(0, entry.find('=') + 1);
    environment.erase(std::remove_if(environment.begin(), environment.end(),
                                     [&](const std::string& e) { return e.rfind(name, 0) == 0; }),
                      environment.end());
    environment.push_back(std::move(entry));
  };
  for (char** e = environ; *e != nullptr; ++e) environment.emplace_back(*e);
  for (auto& e : env) set(std::move(e));
  std::vector<char*> c_argv;
  for (auto& a : argv) c_argv.push_back(a.data());
  c_argv.push_back(nullptr);
  std::vector<char*> c_env;
  for (auto& e : environment) c_env.push_back(e.data());
  c_env.push_back(nullptr);

  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    // A test binary that dies without running destructors (a crash, a sanitizer's
    // halt_on_error) must not leave its gateway or emulator running.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    dup2(fds[1], STDOUT_FILENO);
    dup2(fds[1], STDERR_FILENO);
    // The test binary may have blocked signals; the child starts clean.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execve(c_argv[0], c_argv.data(), c_env.data());
    _exit(127);
  }
  close(fds[1]);
  return std::unique_ptr<ChildProcess>(new ChildProcess(pid, fds[0]));
}

ChildProcess::ChildProcess(pid_t pid, int out_fd) : pid_(pid), out_fd_(out_fd) {
  reader_ = std::thread([this] { ReadLoop(); });
}

ChildProcess::~ChildProcess() {
  if (!exited_) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  reader_.join();
  close(out_fd_);
}

void ChildProcess::ReadLoop() {
  char buffer[4096];
  while (true) {
    const ssize_t n = read(out_fd_, buffer, sizeof(buffer));
    if (n <= 0) break;
    absl::MutexLock lock(&mu_);
    output_.append(buffer, static_cast<size_t>(n));
  }
  absl::MutexLock lock(&mu_);
  eof_ = true;
}

std::string ChildProcess::Output() const {
  absl::MutexLock lock(&mu_);
  return output_;
}

bool ChildProcess::WaitForOutput(absl::string_view needle, absl::Duration timeout) {
  const std::string wanted(needle);
  auto found = [this, &wanted]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> bool {
    return eof_ || output_.find(wanted) != std::string::npos;
  };
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&found), timeout);
  return output_.find(wanted) != std::string::npos;
}

std::string ChildProcess::FinalOutput(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&eof_), timeout);
  return output_;
}

absl::StatusOr<std::string> ChildProcess::WaitForAddress(absl::Duration timeout) {
  static const std::string kKey = "\"address\":\"";
  auto found = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> bool {
    const size_t line = output_.find("\"message\":\"listening\"");
    return eof_ || (line != std::string::npos && output_.find(kKey, line) != std::string::npos);
  };
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&found), timeout);
  const size_t line = output_.find("\"message\":\"listening\"");
  const size_t key = line == std::string::npos ? line : output_.find(kKey, line);
  if (key == std::string::npos) {
    return absl::DeadlineExceededError(absl::StrCat("no listening line; output:\n", output_));
  }
  const size_t begin = key + kKey.size();
  return output_.substr(begin, output_.find('"', begin) - begin);
}

absl::StatusOr<int> ChildProcess::Wait(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!exited_) {
    int status = 0;
    const pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exited_ = true;
      exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      break;
    }
    if (absl::Now() > deadline) return absl::DeadlineExceededError("process did not exit");
    absl::SleepFor(absl::Milliseconds(10));
  }
  return exit_status_;
}

absl::StatusOr<int> ChildProcess::Stop(int signal, absl::Duration timeout) {
  if (!exited_) kill(pid_, signal);
  return Wait(timeout);
}

long PeakRssKib(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

absl::StatusOr<CommandResult> RunCommand(std::vector<std::string> argv,
                                         std::vector<std::string> env, absl::Duration timeout) {
  absl::StatusOr<std::unique_ptr<ChildProcess>> child = ChildProcess::Start(argv, env);
  if (!child.ok()) return child.status();
  absl::StatusOr<int> status = (*child)->Wait(timeout);
  if (!status.ok()) return status.status();
  CommandResult result;
  result.exit_status = *status;
  result.output = (*child)->FinalOutput();
  return result;
}

}  // namespace otaverify::testing
