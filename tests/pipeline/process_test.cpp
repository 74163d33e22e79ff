// Process workers (multi_proc): handlers in child processes that crash, hang or run away with
// memory without taking the run down, and no child left behind.
#include <tendril/pipeline/process.hpp>
#include <tendril/tendril.hpp>

#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <dirent.h>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <ranges>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/watchdog.hpp"

using namespace std::chrono_literals;

extern char** environ;

namespace {

// Registered in this process and in every worker process started from it.
const auto square_with_pid =
    tendril::process_handler("test.square", [](int x, tendril::WorkerState& state) {
      int& seen = state.get_or_create("seen", [] { return 0; });
      ++seen;
      return std::vector<int>{x * x, static_cast<int>(::getpid()), seen};
    });

const auto fragile = tendril::process_handler("test.fragile", [](int x) {
  if (x == 13) ::raise(SIGSEGV);
  if (x == 14) std::abort();
  if (x == 15) ::_exit(3);
  return x;
});

const auto stubborn = tendril::process_handler("test.stubborn", [](int x) {
  if (x == 5 || x < 0)
    for (;;) ::pause();  // deaf to every stop request
  return x;
});

const auto hungry = tendril::process_handler("test.hungry", [](int mebibytes) {
  std::vector<char> block(static_cast<std::size_t>(mebibytes) << 20, 1);
  return static_cast<int>(block[block.size() / 2]);
});

// The processes whose parent is `parent` (zombies included).
std::vector<int> children(int parent = ::getpid()) {
  std::vector<int> found;
  DIR* proc = ::opendir("/proc");
  while (dirent* entry = proc ? ::readdir(proc) : nullptr) {
    const int pid = std::atoi(entry->d_name);
    if (pid <= 0) continue;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    std::getline(stat, line);
    const auto close = line.rfind(')');
    if (close == std::string::npos) continue;
    int ppid = 0;
    char state = 0;
    if (std::sscanf(line.c_str() + close + 1, " %c %d", &state, &ppid) == 2 && ppid == parent)
      found.push_back(pid);
  }
  if (proc) ::closedir(proc);
  return found;
}

}  // namespace

TEST(ProcessWorkers, EachWorkerIsAChildProcessKeepingItsStateAcrossItems) {
  tendril::testing::Watchdog watchdog(60s, "process workers");
  auto stage = tendril::work_pool({.num_workers = 2, .multi_proc = true}, square_with_pid);
  std::set<int> pids;
  int total = 0, most_seen = 0;
  for (const auto& r : (tendril::Pipeline(std::views::iota(0, 200)) >> stage).iter()) {
    total += r[0];
    pids.insert(r[1]);
    most_seen = std::max(most_seen, r[2]);
  }
  int expected = 0;
  for (int i = 0; i < 200; ++i) expected += i * i;
  EXPECT_EQ(total, expected);
  EXPECT_FALSE(pids.contains(::getpid())) << "the handler ran in other processes";
  EXPECT_LE(pids.size(), 2u);
  EXPECT_GT(most_seen, 1) << "a worker's WorkerState lives on across its items";
  EXPECT_TRUE(children().empty()) << "every worker was reaped with the run";
}

TEST(ProcessWorkers, ACrashCostsOneAttemptAndOneWorkerAndSaysHowItDied) {
  tendril::testing::Watchdog watchdog(60s, "crashes");
  auto stage = tendril::work_pool(
      {.retries = 2, .num_workers = 2, .on_error = tendril::OnError::pass, .multi_proc = true},
      fragile);
  std::vector<std::string> errors;
  int values = 0;
  auto pipe = tendril::Pipeline(std::views::iota(0, 100)) >> stage;
  for (auto& r : pipe.iter_results()) {
    if (r) {
      ++values;
    } else {
      EXPECT_EQ(r.error().attempts, 2) << "retried on a fresh worker";
      errors.push_back(r.error().message);
    }
  }
  EXPECT_EQ(values, 97) << "every other item was processed";
  std::sort(errors.begin(), errors.end());
  EXPECT_EQ(errors, (std::vector<std::string>{"worker crashed: SIGABRT", "worker crashed: SIGSEGV",
                                              "worker exited with status 3"}));
  EXPECT_TRUE(children().empty());
  // Three items, each crashing its worker on both attempts: 6 crashes. With one worker, each
  // retry and each next item after a second crash runs on a fresh worker: 6 restarts (with
  // two, a worker's first start may come after a crash of the other's, and is no restart).
  auto single = tendril::work_pool(
      {.retries = 2, .on_error = tendril::OnError::pass, .multi_proc = true}, fragile);
  auto run = (tendril::Pipeline(std::views::iota(0, 100)) >> single).run();
  ASSERT_TRUE(run) << run.error().message;
  EXPECT_EQ(run->stages[0].worker_crashes, 6u);
  EXPECT_EQ(run->stages[0].worker_restarts, 6u);
  EXPECT_EQ(run->stages[0].failed, 3u);
  EXPECT_EQ(run->processed, 97u);
  const auto metrics = pipe.last_metrics();
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->stages[0].worker_crashes, 6u) << "with two workers too";
  const std::string table = run->table();
  EXPECT_NE(table.find("crashes restarts"), std::string::npos) << table;
}

TEST(ProcessWorkers, AHandlerStuckForeverIsKilledAtItsTimeout) {
  tendril::testing::Watchdog watchdog(60s, "timeout");
  auto stage = tendril::work_pool(
      {.num_workers = 2, .on_error = tendril::OnError::pass, .multi_proc = true, .timeout = 300ms},
      stubborn);
  const auto start = std::chrono::steady_clock::now();
  int values = 0;
  std::string error;
  auto pipe = tendril::Pipeline(std::views::iota(0, 20)) >> stage;
  for (auto& r : pipe.iter_results()) {
    if (r)
      ++values;
    else
      error = r.error().message;
  }
  EXPECT_EQ(values, 19);
  EXPECT_EQ(error, "timed out after 300 ms");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  EXPECT_TRUE(children().empty());
  ASSERT_TRUE(pipe.last_metrics());
  EXPECT_EQ(pipe.last_metrics()->stages[0].worker_crashes, 0u) << "killed for its timeout";
}

// One worker per handler, each a process: the handlers' items land in different processes, each
// worker keeps its state, and a crash in one handler's worker leaves the other's alone.
const auto tag_a = tendril::process_handler("test.tag_a", [](int x, tendril::WorkerState& s) {
  if (x == 7) ::raise(SIGSEGV);
  int& seen = s.get_or_create("seen", [] { return 0; });
  return std::vector<int>{0, x, static_cast<int>(::getpid()), ++seen};
});
const auto tag_b = tendril::process_handler("test.tag_b", [](int x, tendril::WorkerState& s) {
  int& seen = s.get_or_create("seen", [] { return 0; });
  return std::vector<int>{1, x, static_cast<int>(::getpid()), ++seen};
});

TEST(ProcessWorkers, AMixPoolRunsEachHandlerInItsOwnProcess) {
  tendril::testing::Watchdog watchdog(60s, "mix_pool");
  // fork_merge: every item goes to both handlers, and the two results are merged.
  auto stage = tendril::mix_pool({.fork_merge =
                                      [](std::vector<std::vector<int>> parts) {
                                        std::vector<int> merged;
                                        for (auto& part : parts)
                                          merged.insert(merged.end(), part.begin(), part.end());
                                        return merged;
                                      },
                                  .on_error = tendril::OnError::pass,
                                  .multi_proc = true},
                                 tag_a, tag_b);
  std::set<int> pids_a, pids_b;
  int merged = 0, most_seen_b = 0;
  std::string error;
  auto pipe = tendril::Pipeline(std::views::iota(0, 50)) >> stage;
  for (auto& r : pipe.iter_results()) {
    if (!r) {
      error = r.error().message;
      continue;
    }
    ASSERT_EQ(r->size(), 8u);
    EXPECT_EQ((*r)[1], (*r)[5]) << "both handlers saw the same item";
    pids_a.insert((*r)[0] == 0 ? (*r)[2] : (*r)[6]);
    pids_b.insert((*r)[0] == 1 ? (*r)[2] : (*r)[6]);
    most_seen_b = std::max(most_seen_b, (*r)[0] == 1 ? (*r)[3] : (*r)[7]);
    ++merged;
  }
  EXPECT_EQ(merged, 49);
  EXPECT_EQ(error, "worker crashed: SIGSEGV");
  EXPECT_EQ(pids_a.size(), 2u) << "handler a's worker was restarted after its crash";
  EXPECT_EQ(pids_b.size(), 1u) << "handler b's worker lived through a's crash";
  EXPECT_FALSE(pids_b.contains(::getpid()));
  EXPECT_TRUE(std::ranges::none_of(pids_a, [&](int pid) { return pids_b.contains(pid); }));
  EXPECT_EQ(most_seen_b, 50) << "b's WorkerState saw every item, the crashed one too";
  ASSERT_TRUE(pipe.last_metrics());
  EXPECT_EQ(pipe.last_metrics()->stages[0].worker_crashes, 1u);
  EXPECT_EQ(pipe.last_metrics()->stages[0].worker_restarts, 1u);
  EXPECT_TRUE(children().empty());
}

TEST(ProcessWorkers, CancelEndsARunWhoseHandlersIgnoreEveryStopRequest) {
  tendril::testing::Watchdog watchdog(60s, "cancel");
  auto stage = tendril::work_pool({.num_workers = 2, .multi_proc = true}, stubborn);
  auto pipe = tendril::Pipeline(std::vector<int>(10, -1)) >> stage;
  std::jthread canceller([&] {
    std::this_thread::sleep_for(300ms);
    pipe.cancel("enough");
  });
  const auto start = std::chrono::steady_clock::now();
  auto run = pipe.run();
  ASSERT_FALSE(run);
  EXPECT_EQ(run.error().kind, tendril::ErrorKind::cancelled);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s) << "the workers were killed";
  EXPECT_TRUE(children().empty());
}

TEST(ProcessWorkers, GoingOverTheMemoryLimitFailsTheItemNotTheRun) {
  tendril::testing::Watchdog watchdog(60s, "memory");
  auto stage = tendril::work_pool({.on_error = tendril::OnError::pass,
                                   .multi_proc = true,
                                   .memory_limit = std::size_t{1} << 30},
                                  hungry);
  std::vector<std::string> outcomes;
  for (auto& r : (tendril::Pipeline(std::vector<int>{1, 2048, 1}) >> stage).iter_results())
    outcomes.push_back(r ? "ok" : r.error().message);
  ASSERT_EQ(outcomes.size(), 3u);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  for (const auto& outcome : outcomes)
    EXPECT_NE(outcome.find("memory_limit cannot be applied in a build with AddressSanitizer"),
              std::string::npos)
        << "a sanitizer build says why it cannot limit memory: " << outcome;
  return;
#endif
  EXPECT_EQ(outcomes[0], "ok");
  EXPECT_EQ(outcomes[1], "std::bad_alloc") << "2 GiB in a worker limited to 1 GiB";
  EXPECT_EQ(outcomes[2], "ok") << "the worker goes on after the refused allocation";
}

TEST(ProcessWorkers, NoWorkerOutlivesAnIterationLeftEarly) {
  tendril::testing::Watchdog watchdog(60s, "early exit");
  auto stage = tendril::work_pool({.num_workers = 2, .multi_proc = true}, square_with_pid);
  {
    auto pipe = tendril::Pipeline(std::views::iota(0, 100000)) >> stage;
    int taken = 0;
    for (const auto& r : pipe.iter()) {
      (void)r;
      if (++taken == 10) break;
    }
  }
  EXPECT_TRUE(children().empty());
}

TEST(ProcessWorkers, WorkersDieWithTheirParentEvenWhenItIsKilled) {
  tendril::testing::Watchdog watchdog(60s, "parent killed");
  // This program again, as a parent whose two workers hang on their items forever.
  std::vector<std::string> variables{"TENDRIL_TEST_HANGING_PARENT=1"};
  for (char** v = environ; *v; ++v) variables.emplace_back(*v);
  std::vector<char*> envp;
  for (auto& v : variables) envp.push_back(v.data());
  envp.push_back(nullptr);
  char program[] = "/proc/self/exe";
  char* argv[] = {program, nullptr};
  pid_t parent = 0;
  ASSERT_EQ(::posix_spawn(&parent, program, nullptr, nullptr, argv, envp.data()), 0);
  std::vector<int> workers;
  for (int i = 0; i < 1000 && workers.size() < 2; ++i) {
    workers = children(parent);
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_EQ(workers.size(), 2u) << "the parent started its two workers";
  ::kill(parent, SIGKILL);
  ::waitpid(parent, nullptr, 0);
  auto alive = [&] {
    int n = 0;
    for (int pid : workers) n += ::kill(pid, 0) == 0;  // (a zombie of init counts briefly)
    return n;
  };
  for (int i = 0; i < 300 && alive() > 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(alive(), 0) << "no worker outlived its parent";
}

TEST(ProcessWorkers, AHandlerNotMadeByProcessHandlerIsRefusedNamingWhatToDo) {
  try {
    (void)tendril::work_pool({.multi_proc = true}, [](int x) { return x; });
    FAIL() << "a plain lambda cannot be found by a worker process";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("needs a handler made by tendril::process_handler"),
              std::string::npos)
        << e.what();
  }
}

TEST(ProcessWorkers, WorkersCanBeStartedByAnotherCommand) {
  tendril::testing::Watchdog watchdog(60s, "worker command");
  char self[4096];
  const ssize_t length = ::readlink("/proc/self/exe", self, sizeof self - 1);
  ASSERT_GT(length, 0);
  self[length] = '\0';
  // Through env(1), which then runs this program: the worker still serves its handler.
  tendril::detail::set_process_worker_command({"/usr/bin/env", "TENDRIL_VIA_ENV=1", self});
  auto stage = tendril::work_pool({.multi_proc = true}, square_with_pid);
  int total = 0;
  for (const auto& r : (tendril::Pipeline(std::views::iota(0, 10)) >> stage).iter()) total += r[0];
  EXPECT_EQ(total, 285);

  // A command that cannot start fails each item, saying why; the run itself ends normally.
  auto passing =
      tendril::work_pool({.on_error = tendril::OnError::pass, .multi_proc = true}, square_with_pid);
  tendril::detail::set_process_worker_command({"/nonexistent/worker"});
  std::vector<std::string> errors;
  for (const auto& r : (tendril::Pipeline(std::views::iota(0, 3)) >> passing).iter_results())
    if (!r) errors.push_back(r.error().message);
  tendril::detail::set_process_worker_command({});
  ASSERT_EQ(errors.size(), 3u);
  for (const auto& message : errors)
    EXPECT_NE(message.find("cannot start a worker process: No such file or directory"),
              std::string::npos)
        << message;
  auto metrics = (tendril::Pipeline(std::views::iota(0, 3)) >> stage).run();
  ASSERT_TRUE(metrics.has_value());
  EXPECT_EQ(metrics->failed, 0u) << "the default command is back";
}

int main(int argc, char** argv) {
  tendril::serve_process_worker_if_asked(argc, argv);
  // Under ASan or TSan, a worker's SIGSEGV would be caught and turned into a report and exit
  // status 1; the crash tests want the kernel's own signal, so the workers started from here
  // leave SIGSEGV, SIGBUS and SIGFPE to it.
  for (const char* variable : {"ASAN_OPTIONS", "TSAN_OPTIONS"}) {
    const char* old = std::getenv(variable);
    const std::string options = std::string(old ? old : "") + (old && *old ? ":" : "") +
                                "handle_segv=0:handle_sigbus=0:handle_sigfpe=0";
    ::setenv(variable, options.c_str(), 1);
  }
  if (std::getenv("TENDRIL_TEST_HANGING_PARENT")) {  // for WorkersDieWithTheirParent...
    auto stage = tendril::work_pool({.num_workers = 2, .multi_proc = true}, stubborn);
    (void)(tendril::Pipeline(std::vector<int>(2, -1)) >> stage).run();  // never returns
    return 1;
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
