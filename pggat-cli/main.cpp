// The pggat command line: run or validate a config.
#include <iostream>

#include "pggat/version.hpp"

int main() {
  std::cout << "pggat " << pggat::version_string << "\n";
  return 0;
}
