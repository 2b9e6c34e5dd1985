// Shared helpers for tests on real data: locating models/sample data (failing loudly when absent)
// and running the real facefleet-runner binary as a subprocess.
#pragma once

#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "mini_json.hpp"

namespace testsupport {

inline bool fileExists(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0;
}

inline std::string modelPath(const std::string& file) { return std::string(FACEFLEET_MODELS_DIR) + "/" + file; }
inline std::string samplePath(const std::string& file) { return std::string(FACEFLEET_SAMPLE_DATA_DIR) + "/" + file; }

inline const std::string kBlazeBack = "face_detection_back_256x256_barracuda.onnx";
inline const std::string kBlazeFront = "face_detection_front_128x128_barracuda.onnx";
inline const std::string kDetectNet = "detectnet_v2_facenet_shaped.onnx";

// Fails the current test (fatally in the caller via ASSERT_TRUE) when a model is missing.
inline ::testing::AssertionResult haveModel(const std::string& file) {
  if (fileExists(modelPath(file))) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "model " << modelPath(file)
                                       << " is missing: run `pnpm --filter @facefleet/runner fetch-models` "
                                          "(packages/runner/scripts/fetch-models.sh) first";
}
inline ::testing::AssertionResult haveSample(const std::string& file) {
  if (fileExists(samplePath(file))) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "sample " << samplePath(file)
                                       << " is missing: install Debian's opencv-doc package (apt install opencv-doc) "
                                          "or configure -DFACEFLEET_SAMPLE_DATA_DIR=...";
}

// A running program with its stdout on a pipe (stderr to the test's stderr); Runner below is the
// facefleet-runner binary (or another build of it: `bin`).
class Child {
 public:
  Child(const std::string& bin, const std::vector<std::string>& args) {
    int fds[2];
    if (::pipe(fds) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(fds[1], STDOUT_FILENO);
      ::close(fds[0]);
      ::close(fds[1]);
      std::vector<char*> argv;
      argv.push_back(const_cast<char*>(bin.c_str()));
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv(bin.c_str(), argv.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    out_ = ::fdopen(fds[0], "r");
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (pid_ > 0 && !waited_) {
      ::kill(pid_, SIGKILL);
      wait();
    }
    if (out_) std::fclose(out_);
  }
  // Next stdout line without the newline; false at EOF.
  bool readLine(std::string& line) {
    line.clear();
    if (!out_) return false;
    int c;
    while ((c = std::fgetc(out_)) != EOF && c != '\n') line += static_cast<char>(c);
    return c != EOF || !line.empty();
  }
  std::vector<std::string> readAll() {
    std::vector<std::string> lines;
    for (std::string l; readLine(l);) lines.push_back(l);
    return lines;
  }
  void signal(int sig) { ::kill(pid_, sig); }
  pid_t pid() const { return pid_; }
  // Exit status (or 128 + signal).
  int wait() {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    waited_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

 private:
  pid_t pid_ = -1;
  FILE* out_ = nullptr;
  bool waited_ = false;
};

class Runner : public Child {
 public:
  explicit Runner(const std::vector<std::string>& args, const std::string& bin = FACEFLEET_RUNNER_BIN)
      : Child(bin, args) {}
};

struct RunResult {
  int exitCode = -1;
  std::vector<std::string> lines;
};

inline RunResult run(const std::vector<std::string>& args, const std::string& bin = FACEFLEET_RUNNER_BIN) {
  Runner r(args, bin);
  RunResult res;
  res.lines = r.readAll();
  res.exitCode = r.wait();
  return res;
}

// One stdout line as JSON; a line that is not JSON fails the test (and gives an empty value).
inline minijson::Value parseLine(const std::string& line) {
  try {
    return minijson::parse(line);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not JSON: " << line << " (" << e.what() << ")";
    return {};
  }
}

inline std::string tempDir(const std::string& name) {
  std::string d = ::testing::TempDir() + "facefleet_" + name + "_" + std::to_string(::getpid());
  ::mkdir(d.c_str(), 0755);
  return d;
}

inline void copyFile(const std::string& from, const std::string& to) {
  FILE* in = std::fopen(from.c_str(), "rb");
  FILE* out = std::fopen(to.c_str(), "wb");
  char buf[65536];
  std::size_t n;
  while (in && out && (n = std::fread(buf, 1, sizeof buf, in)) > 0) std::fwrite(buf, 1, n, out);
  if (in) std::fclose(in);
  if (out) std::fclose(out);
}

inline void writeText(const std::string& path, const std::string& text) {
  FILE* f = std::fopen(path.c_str(), "w");
  std::fputs(text.c_str(), f);
  std::fclose(f);
}

}  // namespace testsupport
