// cli/suggest.hpp — "did you mean 'scan'?" for a mistyped command or option.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tendril::cli {

// The name in `names` closest to `word` (edits, with a swap of neighbours as one), when it is
// close enough to be what was meant: at most 2 edits, and fewer than half the word's length.
std::optional<std::string> closest(std::string_view word, const std::vector<std::string>& names);

}  // namespace tendril::cli
