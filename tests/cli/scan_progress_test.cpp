// What `tendril scan`'s progress line says: a spinner until the total is counted, then a bar,
// the files and bytes of the total and an ETA; never wider than the terminal.
#include "scan_progress.hpp"

#include <gtest/gtest.h>

#include <string>

namespace cli = tendril::cli;

namespace {

cli::ScanProgress halfway() {
  cli::ScanProgress p;
  p.files_done = 1500;
  p.bytes_done = 512ull << 20;
  p.files_total = 3000;
  p.bytes_total = 1024ull << 20;
  p.total_known = true;
  p.seconds = 4;  // 128 MiB/s: 512 MiB to go is 4 s
  return p;
}

}  // namespace

TEST(ScanProgress, NumbersAreGroupedAndDurationsReadAsAClock) {
  EXPECT_EQ(cli::grouped(0), "0");
  EXPECT_EQ(cli::grouped(999), "999");
  EXPECT_EQ(cli::grouped(1000), "1,000");
  EXPECT_EQ(cli::grouped(158770), "158,770");
  EXPECT_EQ(cli::grouped(1234567890), "1,234,567,890");
  EXPECT_EQ(cli::clock_duration(0), "0:00");
  EXPECT_EQ(cli::clock_duration(6.2), "0:07") << "rounded up: never says done too early";
  EXPECT_EQ(cli::clock_duration(754), "12:34");
  EXPECT_EQ(cli::clock_duration(3723), "1:02:03");
}

TEST(ScanProgress, AKnownTotalGivesABarTheTotalsAndAnEtaFromTheByteRate) {
  const std::string line = cli::render_scan_progress(halfway(), 120);
  EXPECT_NE(line.find("[###############...............]"), std::string::npos) << line;
  EXPECT_NE(line.find(" 50%"), std::string::npos) << line;
  EXPECT_NE(line.find("1,500/3,000 files"), std::string::npos) << line;
  EXPECT_NE(line.find("512.0 MiB / 1.0 GiB"), std::string::npos) << line;
  EXPECT_NE(line.find("128.0 MiB/s"), std::string::npos) << line;
  EXPECT_NE(line.find("ETA 0:04"), std::string::npos) << line;
  EXPECT_EQ(line.find("error"), std::string::npos) << "no errors, no word of them: " << line;
}

TEST(ScanProgress, BeforeTheTotalIsCountedASpinnerTurnsAndNoEtaIsGuessed) {
  cli::ScanProgress p = halfway();
  p.total_known = false;
  p.errors = 1;
  const std::string first = cli::render_scan_progress(p, 120);
  p.tick = 1;
  const std::string second = cli::render_scan_progress(p, 120);
  EXPECT_NE(first, second) << "the spinner turns";
  EXPECT_EQ(first.find("ETA"), std::string::npos) << first;
  EXPECT_EQ(first.find('%'), std::string::npos) << first;
  EXPECT_NE(first.find("1,500 files"), std::string::npos) << first;
  EXPECT_NE(first.find("(counting: 3,000 files, 1.0 GiB)"), std::string::npos) << first;
  EXPECT_NE(first.find("1 error"), std::string::npos) << first;
}

TEST(ScanProgress, NoLineIsWiderThanTheTerminalLessOneAndTheCountsGoLast) {
  cli::ScanProgress p = halfway();
  p.errors = 12345;
  for (int width = 10; width <= 200; ++width) {
    const std::string line = cli::render_scan_progress(p, width);
    ASSERT_LE(static_cast<int>(line.size()), std::max(width - 1, 10)) << width << ": " << line;
    if (width >= 40) {
      EXPECT_NE(line.find("1,500/3,000 files"), std::string::npos) << width << ": " << line;
    }
  }
  const std::string narrow = cli::render_scan_progress(p, 40);
  EXPECT_EQ(narrow.find('['), std::string::npos) << "the bar goes first: " << narrow;
}

TEST(ScanProgress, WithoutAByteTotalTheEtaComesFromTheFileRate) {
  cli::ScanProgress p = halfway();
  p.bytes_total = 0;  // the hashing walk ended before the count did
  p.seconds = 10;     // 150 files/s, 1,500 to go
  const std::string line = cli::render_scan_progress(p, 120);
  EXPECT_NE(line.find("ETA 0:10"), std::string::npos) << line;
  EXPECT_NE(line.find(" 50%"), std::string::npos) << line;
}
