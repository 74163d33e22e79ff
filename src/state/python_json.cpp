#include "python_json.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <system_error>

#include "json_text.hpp"

namespace tendril::state {
namespace {

// The code point at text[i] and how many bytes it takes; U+FFFD and 1 for a byte that does not
// start valid UTF-8.
std::uint32_t decode(const std::string& text, std::size_t i, std::size_t& length) {
  length = utf8_sequence(text, i);
  if (length == 0) {
    length = 1;
    return 0xfffd;
  }
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[i + k]); };
  std::uint32_t point = byte(0) & (0x7f >> length);  // the lead byte's payload bits
  for (std::size_t k = 1; k < length; ++k) point = (point << 6) | (byte(k) & 0x3f);
  return point;
}

// json.dumps's ensure_ascii: only printable ASCII stays as it is.
void append_string(std::string& out, const std::string& text) {
  out += '"';
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t plain_end = plain_run_end(text, i);
    out.append(text, i, plain_end - i);
    if ((i = plain_end) == text.size()) break;
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      std::size_t length;
      const std::uint32_t point = decode(text, i, length);
      i += length;
      if (point > 0xffff) {
        append_unicode_escape(out, 0xd800 + ((point - 0x10000) >> 10));
        append_unicode_escape(out, 0xdc00 + ((point - 0x10000) & 0x3ff));
      } else {
        append_unicode_escape(out, point);
      }
      continue;
    }
    ++i;
    if (append_ascii_escape(out, c)) continue;
    if (c == 0x7f)
      append_unicode_escape(out, c);
    else
      out += static_cast<char>(c);
  }
  out += '"';
}

// float.__repr__: the shortest digits that read back the same; positional while the decimal
// exponent is in [-4, 16), with ".0" when there is no fraction; otherwise d.ddde+XX.
void append_float(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
    return;
  }
  if (std::isinf(value)) {
    out += value < 0 ? "-Infinity" : "Infinity";
    return;
  }
  char text[64];
  const auto [end, error] =
      std::to_chars(text, text + sizeof text, value, std::chars_format::scientific);
  if (error != std::errc()) return;  // cannot happen with 64 bytes
  // text: [-]d[.ddd]e(+|-)XX
  const std::string_view written(text, static_cast<std::size_t>(end - text));
  const std::size_t e = written.find('e');
  std::string_view mantissa = written.substr(0, e);
  const int exponent = std::atoi(std::string(written.substr(e + 1)).c_str());
  if (mantissa.front() == '-') {
    out += '-';
    mantissa.remove_prefix(1);
  }
  std::string digits(1, mantissa.front());
  if (mantissa.size() > 2) digits.append(mantissa.substr(2));
  const int point = exponent + 1;  // digits before the decimal point
  if (exponent < -4 || exponent >= 16) {
    out += digits.front();
    if (digits.size() > 1) {
      out += '.';
      out.append(digits, 1);
    }
    out += 'e';
    out += exponent < 0 ? '-' : '+';
    const int magnitude = std::abs(exponent);
    if (magnitude < 10) out += '0';
    out += std::to_string(magnitude);
  } else if (point <= 0) {
    out += "0.";
    out.append(static_cast<std::size_t>(-point), '0');
    out += digits;
  } else if (static_cast<std::size_t>(point) >= digits.size()) {
    out += digits;
    out.append(static_cast<std::size_t>(point) - digits.size(), '0');
    out += ".0";
  } else {
    out.append(digits, 0, static_cast<std::size_t>(point));
    out += '.';
    out.append(digits, static_cast<std::size_t>(point));
  }
}

}  // namespace

void append_python_json(std::string& out, const nlohmann::ordered_json& value) {
  using Type = nlohmann::ordered_json::value_t;
  switch (value.type()) {
    case Type::null:
    case Type::discarded:
      out += "null";
      break;
    case Type::boolean:
      out += value.get<bool>() ? "true" : "false";
      break;
    case Type::number_integer:
      out += std::to_string(value.get<std::int64_t>());
      break;
    case Type::number_unsigned:
      out += std::to_string(value.get<std::uint64_t>());
      break;
    case Type::number_float:
      append_float(out, value.get<double>());
      break;
    case Type::string:
      append_string(out, value.get_ref<const std::string&>());
      break;
    case Type::array: {
      out += '[';
      bool first = true;
      for (const auto& element : value) {
        if (!first) out += ", ";
        first = false;
        append_python_json(out, element);
      }
      out += ']';
      break;
    }
    case Type::object: {
      out += '{';
      bool first = true;
      for (const auto& [key, element] : value.items()) {
        if (!first) out += ", ";
        first = false;
        append_string(out, key);
        out += ": ";
        append_python_json(out, element);
      }
      out += '}';
      break;
    }
    case Type::binary:
      out += "null";  // never made by parsing JSON; json.dumps has no such type
      break;
  }
}

}  // namespace tendril::state
