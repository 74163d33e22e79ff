// Run by publisher_test: publishes five states through the shared publisher and returns from
// main at once, so that only the flush at exit can deliver them.
//   publisher_exit_probe SINK_PATH
#include <tendril/state/publisher.hpp>

#include <chrono>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  namespace ts = tendril::state;
  auto& publisher = ts::get_tool_state_publisher(ts::PublisherOptions{
      .flush_interval = std::chrono::seconds(60), .use_environment = false, .sink_path = argv[1]});
  for (int i = 0; i < 5; ++i) {
    ts::ToolState state;
    state.processed_files = i;
    publisher.publish(state);
  }
  return 0;
}
