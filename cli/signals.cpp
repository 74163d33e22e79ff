#include "signals.hpp"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <system_error>

namespace tendril::cli {

namespace {
sigset_t watched_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}
}  // namespace

SignalWatcher::SignalWatcher(std::function<void(int)> on_signal) {
  const sigset_t set = watched_signals();
  // A shell starts background jobs with SIGINT ignored, and an ignored signal is discarded
  // before a signalfd can see it: take the default back (it is blocked, so it cannot kill).
  ::signal(SIGINT, SIG_DFL);
  ::signal(SIGTERM, SIG_DFL);
  pthread_sigmask(SIG_BLOCK, &set, &previous_mask_);
  signals_ = ::signalfd(-1, &set, SFD_CLOEXEC);
  wake_ = ::eventfd(0, EFD_CLOEXEC);
  if (signals_ < 0 || wake_ < 0)
    throw std::system_error(errno, std::generic_category(), "signalfd");
  watcher_ = std::thread([this, on_signal = std::move(on_signal)] {
    for (;;) {
      pollfd ready[2] = {{.fd = signals_, .events = POLLIN, .revents = 0},
                         {.fd = wake_, .events = POLLIN, .revents = 0}};
      if (::poll(ready, 2, -1) < 0) {
        if (errno == EINTR) continue;
        return;
      }
      if (ready[1].revents) return;  // the destructor's wake-up
      signalfd_siginfo info{};
      if (::read(signals_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
        received_ = static_cast<int>(info.ssi_signo);
        on_signal(static_cast<int>(info.ssi_signo));
      }
    }
  });
}

SignalWatcher::~SignalWatcher() {
  const std::uint64_t one = 1;
  if (::write(wake_, &one, sizeof one) < 0) {  // cannot fail on an eventfd below its maximum
  }
  watcher_.join();
  ::close(signals_);
  ::close(wake_);
  pthread_sigmask(SIG_SETMASK, &previous_mask_, nullptr);
}

}  // namespace tendril::cli
