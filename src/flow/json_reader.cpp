#include "tendril/flow/json_reader.hpp"

#include <optional>
#include <set>
#include <string>
#include <vector>

namespace tendril {

namespace {

// "line L, column C" of byte offset `byte` (1-based, as the parser counts).
std::string place(std::string_view text, std::size_t byte) {
  std::size_t line = 1, column = 1;
  for (std::size_t i = 0; i + 1 < byte && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return std::to_string(line) + ":" + std::to_string(column);
}

// The parser's message without its "[json.exception...]" tag and its own position prefix.
std::string reason(const std::exception& e) {
  std::string what = e.what();
  if (what.starts_with("[json")) {
    if (auto close = what.find("] "); close != std::string::npos) what = what.substr(close + 2);
  }
  if (what.starts_with("parse error at line")) {
    if (auto colon = what.find(": "); colon != std::string::npos) what = what.substr(colon + 2);
  }
  constexpr std::size_t kLongest = 160;  // a 100,000-digit number is not worth quoting whole
  if (what.size() > kLongest) what = what.substr(0, kLongest) + "...";
  return what;
}

// A first pass over the text that builds nothing: depth, repeated keys, overflowing numbers.
class Checker final : public nlohmann::json_sax<Json> {
 public:
  Checker(std::string_view text, std::size_t max_depth) : text_(text), max_depth_(max_depth) {}

  std::optional<std::string> problem;

  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override {
    keys_.emplace_back();
    return enter();
  }
  bool key(string_t& key) override {
    if (!keys_.back().insert(key).second) {
      problem = "the key \"" + key + "\" appears twice in one object";
      return false;
    }
    return true;
  }
  bool end_object() override {
    keys_.pop_back();
    --depth_;
    return true;
  }
  bool start_array(std::size_t) override {
    keys_.emplace_back();  // arrays hold no keys; keeps the stack in step
    return enter();
  }
  bool end_array() override {
    keys_.pop_back();
    --depth_;
    return true;
  }
  bool parse_error(std::size_t byte, const std::string&,
                   const nlohmann::detail::exception& e) override {
    problem = place(text_, byte) + ": " + reason(e);
    return false;
  }

 private:
  bool enter() {
    if (++depth_ > max_depth_) {
      problem = "nested deeper than " + std::to_string(max_depth_) + " levels";
      return false;
    }
    return true;
  }

  std::string_view text_;
  std::size_t max_depth_;
  std::size_t depth_ = 0;
  std::vector<std::set<std::string>> keys_;
};

std::unexpected<Error> invalid(std::string message) {
  return std::unexpected(Error{.kind = ErrorKind::invalid, .message = std::move(message)});
}

}  // namespace

Result<Json> read_json(std::string_view text, JsonLimits limits) {
  if (text.size() > limits.max_bytes)
    return invalid("larger than " + std::to_string(limits.max_bytes) + " bytes (" +
                   std::to_string(text.size()) + ")");
  Checker checker(text, limits.max_depth);
  const bool ok = Json::sax_parse(text, &checker, nlohmann::detail::input_format_t::json,
                                  /*strict=*/true, /*ignore_comments=*/false);
  if (!ok || checker.problem) return invalid(checker.problem.value_or("not valid JSON"));
  Json json = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return invalid("not valid JSON");
  return json;
}

}  // namespace tendril
