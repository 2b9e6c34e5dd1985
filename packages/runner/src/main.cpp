// facefleet-runner: the thin executable around facefleet_runner_core. Installs the signal handlers
// that turn SIGINT/SIGTERM into a clean stop (finish the frame, final stats, exit 0).
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <atomic>
#include <csignal>
#include <string>
#include <vector>

#include "facefleet/cli.hpp"

namespace {

std::atomic<bool> stopRequested{false};
static_assert(std::atomic<bool>::is_always_lock_free, "the signal handler needs a lock-free flag");

extern "C" void onSignal(int) { stopRequested.store(true); }

}  // namespace

int main(int argc, char** argv) {
  struct sigaction sa {};
  sa.sa_handler = onSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND;  // a second signal terminates at once
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
#ifdef __linux__
  // If the process that started us dies without stopping us (the agent killed with -9), stop as if
  // sent SIGTERM: otherwise the orphan keeps the camera and the GPU while the restarted agent
  // starts a second runner. The getppid check closes the race with a parent that already died.
  const pid_t parent = getppid();
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() != parent) stopRequested.store(true);
#endif
  return facefleet::runCli(std::vector<std::string>(argv + 1, argv + argc), stopRequested);
}
