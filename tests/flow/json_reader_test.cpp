// read_json: JSON from outside is read within limits, and every refusal names its reason.
#include <gtest/gtest.h>

#include <string>
#include <tendril/flow/json_reader.hpp>

namespace td = tendril;

namespace {
std::string refusal(const std::string& text, td::JsonLimits limits = {}) {
  auto json = td::read_json(text, limits);
  if (json) return "(read)";
  EXPECT_EQ(json.error().kind, td::ErrorKind::invalid);
  return json.error().message;
}
}  // namespace

TEST(ReadJson, ReadsOrdinaryDocuments) {
  auto json = td::read_json(R"({"a": [1, 2.5, "x", null, true], "b": {"c": {}}})");
  ASSERT_TRUE(json) << json.error().message;
  EXPECT_EQ((*json)["a"][1], 2.5);
}

TEST(ReadJson, NumbersThatOverflowAreErrorsNotAborts) {
  EXPECT_EQ(refusal(R"({"n": 1e400})"), "1:11: number overflow parsing '1e400'");
  EXPECT_NE(refusal(R"([-1e309])").find("number overflow parsing '-1e309'"), std::string::npos);
  const std::string digits(100'000, '9');
  const std::string long_number = refusal("[" + digits + "]");
  EXPECT_NE(long_number.find("number overflow"), std::string::npos);
  EXPECT_LT(long_number.size(), 200u) << "the number is not quoted whole";
}

TEST(ReadJson, DeepNestingIsRefusedWithoutExhaustingTheStack) {
  const std::string deep = std::string(100'000, '[') + std::string(100'000, ']');
  EXPECT_EQ(refusal(deep), "nested deeper than 64 levels");
  const std::string objects = [] {
    std::string s;
    for (int i = 0; i < 100'000; ++i) s += "{\"a\":";
    return s + "1" + std::string(100'000, '}');
  }();
  EXPECT_EQ(refusal(objects), "nested deeper than 64 levels");
  EXPECT_EQ(refusal("[[[1]]]", {.max_depth = 3}), "(read)");
  EXPECT_EQ(refusal("[[[[1]]]]", {.max_depth = 3}), "nested deeper than 3 levels");
}

TEST(ReadJson, RepeatedKeysAndOversizedDocumentsAreRefused) {
  EXPECT_EQ(refusal(R"({"a": 1, "b": {"x": 1, "x": 2}})"),
            "the key \"x\" appears twice in one object");
  EXPECT_EQ(refusal(R"([{"x": 1}, {"x": 2}])"), "(read)");  // one key per object is fine
  EXPECT_EQ(refusal(std::string(100, ' ') + "1", {.max_bytes = 50}), "larger than 50 bytes (101)");
  EXPECT_NE(refusal("{\n  \"a\": ,\n}").find("2:8: syntax error"), std::string::npos);
}
