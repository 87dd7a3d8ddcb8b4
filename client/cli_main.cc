// The `otaverify` command-line tool. All logic lives in cli.h so tests can run it in-process.
#include <iostream>
#include <string>
#include <vector>

#include "client/cli.h"

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  return otaverify::RunCli(args, std::cout, std::cerr);
}
