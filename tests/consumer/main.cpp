#include <tendril/flow.hpp>
#include <tendril/state/publisher.hpp>
#include <tendril/stream/remote_stage.hpp>
#include <tendril/stream/worker.hpp>
#include <tendril/tendril.hpp>

#include <cstdio>
#include <vector>

int main() {
  auto square =
      tendril::work_pool({.num_workers = 2}, [](int x, tendril::WorkerState&) { return x * x; });
  auto pipe = tendril::Pipeline(std::vector{1, 2, 3}) >> square;
  int sum = 0;
  for (int v : pipe.iter()) sum += v;
  std::printf("consumer: sum of squares = %d\n", sum);

  // Tool state, to the default sink (no Redis configured here).
  namespace ts = tendril::state;
  ts::ToolStatePublisher publisher({.use_environment = false, .sink_path = "/dev/null"});
  publisher.publish(ts::ToolState{.state = "COMPLETED", .tool_name = "consumer"});
  const bool sent = publisher.shutdown();

  // A flow of the built-in routine types, loaded from JSON and run.
  tendril::register_builtin_routines();
  auto flow = tendril::Flow::from_json(tendril::Json::parse(R"({"flow_id": "count",
      "routines": {"count": {"type": "tendril.Counter"}}})"));
  if (!flow) return 1;
  tendril::Runtime runtime({.thread_pool_size = 1});
  auto worker = runtime.exec(*flow);
  if (!worker) return 1;
  for (int i = 0; i < 3; ++i)
    if (!runtime.post("count", "count", "in", {})) return 1;
  if (!runtime.wait_until_all_jobs_finished(std::chrono::seconds(10))) return 1;
  const auto counted = runtime.worker_state(*worker)->get_routine_state("count").value()["count"];
  std::printf("consumer: flow counted %d\n", counted.get<int>());
  // Scale-out: a remote stage and a stream worker can be made (serving needs a Redis).
  namespace st = tendril::stream;
  auto remote = st::remote_stage<int, int>({.stage = "consumer"});
  auto stream_worker = st::stream_worker({.stage = "consumer"}, [](int x) { return x + 1; });
  const bool codec = st::JsonCodec<int>::decode(st::JsonCodec<int>::encode(41)).value() == 41;
  std::printf("consumer: remote stage '%s', worker of '%s'\n", remote.name().c_str(),
              stream_worker.options().stage.c_str());
  return codec && sum == 14 && sent && publisher.stats().sent == 1 && counted == 3 ? 0 : 1;
}
