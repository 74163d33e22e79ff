// src/state/json_text.hpp — what both of the state's JSON writers (tool_state.cpp's compact one
// and python_json.cpp's json.dumps look-alike) need to write a string literal.
#pragma once

#include <cstddef>
#include <string>

namespace tendril::state {

// The length of the valid UTF-8 sequence at text[i] (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF), or 0 when the bytes there are not one.
inline std::size_t utf8_sequence(const std::string& text, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  std::size_t length;
  unsigned char low = 0x80, high = 0xbf;  // the range of the second byte
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead == 0xe0) low = 0xa0;   // no overlong forms
    if (lead == 0xed) high = 0x9f;  // no surrogates
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead == 0xf0) low = 0x90;
    if (lead == 0xf4) high = 0x8f;  // nothing above U+10FFFF
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  if (byte(i + 1) < low || byte(i + 1) > high) return 0;
  for (std::size_t k = 2; k < length; ++k)
    if (byte(i + k) < 0x80 || byte(i + k) > 0xbf) return 0;
  return length;
}

// Where the run of bytes from text[i] that both writers copy as they are ends: printable ASCII
// (0x20-0x7e) but for the quote and the backslash. Runs are appended whole, not byte by byte.
inline std::size_t plain_run_end(const std::string& text, std::size_t i) {
  for (; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') break;
  }
  return i;
}

// Appends "\u" and `unit` as four lower-case hex digits.
inline void append_unicode_escape(std::string& out, unsigned unit) {
  static constexpr char hex[] = "0123456789abcdef";
  out += "\\u";
  for (int shift = 12; shift >= 0; shift -= 4) out += hex[(unit >> shift) & 0xf];
}

// Appends the escape JSON writers agree on for the ASCII byte `c` (`\"`, `\\`, `\b`, `\f`, `\n`,
// `\r`, `\t`, `\u00XX` below 0x20); false, appending nothing, for a byte that needs none.
inline bool append_ascii_escape(std::string& out, unsigned char c) {
  switch (c) {
    case '"':
      out += "\\\"";
      return true;
    case '\\':
      out += "\\\\";
      return true;
    case '\b':
      out += "\\b";
      return true;
    case '\f':
      out += "\\f";
      return true;
    case '\n':
      out += "\\n";
      return true;
    case '\r':
      out += "\\r";
      return true;
    case '\t':
      out += "\\t";
      return true;
    default:
      if (c >= 0x20) return false;
      append_unicode_escape(out, c);
      return true;
  }
}

}  // namespace tendril::state
