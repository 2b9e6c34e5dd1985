// The facefleet-runner command line: run (default), decode, bench, eval.
#pragma once

#include <atomic>
#include <string>
#include <vector>

namespace facefleet {

// Runs one command; returns the process exit code. Errors are reported as one
// {"type":"error",...} line on stdout plus a human line on stderr. `stop` turns true on SIGINT/SIGTERM.
int runCli(const std::vector<std::string>& args, const std::atomic<bool>& stop);

int runCommand(const std::vector<std::string>& args, const std::atomic<bool>& stop);
int decodeCommand(const std::vector<std::string>& args);
int benchCommand(const std::vector<std::string>& args, const std::atomic<bool>& stop);
int evalCommand(const std::vector<std::string>& args);

std::string usage();

// One line to stdout, flushed (the agent reads stdout line by line).
void emitLine(const std::string& line);
void logWarning(const std::string& message);

}  // namespace facefleet
