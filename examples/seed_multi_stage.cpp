// The seed README's "Multi-Stage Data Pipeline": ingest with two workers, analyse with a
// fork/merge mix pool (each item goes to both analysers and their results are merged), store
// with retries and a per-worker database connection.
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <tendril/tendril.hpp>
#include <vector>

namespace td = tendril;

using Record = std::map<std::string, std::string>;

// Stand-ins for the seed's load_data, analyze_sentiment, extract_keywords and database.
Record load_data(const std::string& source) {
  return {{"source", source}, {"text", "good " + source}};
}
std::string analyze_sentiment(const Record& r) {
  return r.at("text").starts_with("good") ? "positive" : "negative";
}
std::string extract_keywords(const Record& r) { return r.at("source"); }

struct Database {
  static inline std::mutex mutex;
  static inline std::vector<Record> rows;
  static inline int connections = 0;
  Database() {
    std::lock_guard lock(mutex);
    ++connections;
  }
  void store(const Record& r) {
    std::lock_guard lock(mutex);
    rows.push_back(r);
  }
};

int main() {
  auto ingest =
      td::work_pool({.buffer = 50, .num_workers = 2},
                    [](std::string source, td::WorkerState&) { return load_data(source); });

  auto analyze = td::mix_pool(
      {.fork_merge =
           [](std::vector<Record> results) {
             Record merged = results[0];
             merged.insert(results[1].begin(), results[1].end());  // {**results[0], **results[1]}
             return merged;
           }},
      [](Record item, td::WorkerState&) {
        item["sentiment"] = analyze_sentiment(item);
        return item;
      },
      [](Record item, td::WorkerState&) {
        item["keywords"] = extract_keywords(item);
        return item;
      });

  auto store = td::work_pool({.buffer = 10, .retries = 2}, [](Record item, td::WorkerState& state) {
    auto& db =
        state.get_or_create("db", [] { return std::make_unique<Database>(); });  // once per worker
    db->store(item);
    return item;
  });

  std::vector<std::string> data_sources{"file1.json", "file2.json", "api_endpoint"};
  auto pipe = td::Pipeline(data_sources).stage(ingest).stage(analyze).stage(store);
  auto result = pipe.run();
  if (!result) {
    std::fprintf(stderr, "pipeline failed: %s\n", result.error().describe().c_str());
    return 1;
  }
  std::printf("%s", result->table().c_str());
  for (const auto& row : Database::rows)
    std::printf("%s: sentiment=%s keywords=%s\n", row.at("source").c_str(),
                row.at("sentiment").c_str(), row.at("keywords").c_str());
  const bool ok = Database::rows.size() == 3 && Database::connections == 1 &&
                  Database::rows[0].at("sentiment") == "positive";
  return ok ? 0 : 1;
}
