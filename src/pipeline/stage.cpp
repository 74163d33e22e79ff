#include "tendril/pipeline/stage.hpp"

#include <stdexcept>

namespace tendril::detail {

void throw_invalid_stage(const std::string& what) {
  throw std::invalid_argument("tendril stage: " + what);
}

}  // namespace tendril::detail
