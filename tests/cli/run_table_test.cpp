// What `tendril watch` shows: one row per run, in the order seen, fitted to the width, with
// silent runs marked.
#include "run_table.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

namespace cli = tendril::cli;
namespace ts = tendril::state;

namespace {

ts::ToolState state(const std::string& tool, const std::string& run, const std::string& status,
                    long long done, long long total, const std::string& timestamp) {
  ts::ToolState s;
  s.flow_run_id.clear();
  s.tool_name = tool;
  s.state = status;
  s.processed_files = done;
  s.total_files = total;
  s.timestamp = timestamp;
  if (!run.empty()) s.extra["tool_run_id"] = run;
  return s;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

const double noon = cli::epoch_seconds("2026-12-01T12:00:00.000000+00:00");

}  // namespace

TEST(RunTable, TwoRunsOfOneToolAreTwoRowsAndUpdatesLandOnTheirOwnRow) {
  cli::RunTable table;
  table.add(state("tendril scan", "p.1", "RUNNING", 0, 10, "2026-12-01T12:00:00.000000+00:00"));
  table.add(state("tendril scan", "p.2", "RUNNING", 5, 50, "2026-12-01T12:00:01.000000+00:00"));
  table.add(state("tendril scan", "p.1", "COMPLETED", 10, 10, "2026-12-01T12:00:02.000000+00:00"));
  ASSERT_EQ(table.runs(), 2u);
  const auto shown = lines(table.render(80, noon + 3, 60));
  ASSERT_EQ(shown.size(), 3u);  // the header and two rows
  EXPECT_TRUE(shown[1].starts_with("tendril scan   COMPLETED [########]")) << shown[1];
  EXPECT_NE(shown[1].find("10/10"), std::string::npos) << shown[1];
  EXPECT_NE(shown[1].find(" 5/s"), std::string::npos) << shown[1];  // 10 files in 2 s
  EXPECT_TRUE(shown[2].starts_with("tendril sca #2 RUNNING")) << shown[2];
  EXPECT_NE(shown[2].find("5/50"), std::string::npos) << shown[2];
}

TEST(RunTable, ARunningRunThatWentQuietShowsAsSilentWithItsAge) {
  cli::RunTable table;
  table.add(state("a", "1", "RUNNING", 1, 2, "2026-12-01T11:55:00.000000+00:00"));
  table.add(state("b", "2", "COMPLETED", 2, 2, "2026-12-01T11:55:00.000000+00:00"));
  table.add(state("c", "3", "RUNNING", 1, 2, "2026-12-01T11:59:30.000000+00:00"));
  const auto shown = lines(table.render(80, noon, 60));
  ASSERT_EQ(shown.size(), 4u);
  EXPECT_TRUE(shown[1].starts_with("a              SILENT")) << shown[1];
  EXPECT_NE(shown[1].find(" 5 min"), std::string::npos) << shown[1];
  EXPECT_TRUE(shown[2].starts_with("b              COMPLETED")) << shown[2];
  EXPECT_TRUE(shown[3].starts_with("c              RUNNING")) << shown[3];
  EXPECT_NE(shown[3].find(" 30 s"), std::string::npos) << shown[3];
}

TEST(RunTable, NoLineIsWiderThanTheTerminalAndControlCharactersAreNotPrinted) {
  cli::RunTable table;
  auto s = state(std::string(100, 'n') + "\x1b[31m", "1", "RUNNING", 123456789, 987654321,
                 "2026-12-01T12:00:00.000000+00:00");
  s.current_file_name = "/very/" + std::string(200, 'd') + "/file\nname\x1b[2J.txt";
  table.add(s);
  for (int width : {64, 80, 132}) {
    const auto shown = lines(table.render(width, noon, 60));
    ASSERT_EQ(shown.size(), 2u) << "a newline in a name split a row";
    for (const auto& line : shown) {
      EXPECT_LE(line.size(), static_cast<std::size_t>(width)) << line;
      EXPECT_EQ(line.find('\x1b'), std::string::npos) << line;
    }
    if (width >= 80) {
      EXPECT_NE(shown[1].find("?[2J.txt"), std::string::npos) << shown[1];
    }
  }
}

TEST(RunTable, SaysHowManyMalformedEntriesItSkipped) {
  cli::RunTable table;
  EXPECT_NE(table.render(80, noon, 60).find("(no tool runs yet)"), std::string::npos);
  table.count_malformed(1);
  EXPECT_NE(table.render(80, noon, 60).find("(1 malformed entry skipped)"), std::string::npos);
  table.count_malformed(2);
  EXPECT_NE(table.render(80, noon, 60).find("(3 malformed entries skipped)"), std::string::npos);
}
