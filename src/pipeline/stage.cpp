#include "tendril/pipeline/stage.hpp"

#include <stdexcept>

namespace tendril::detail {

void throw_invalid_stage(const std::string& what) { throw UsageError("tendril stage: " + what); }

}  // namespace tendril::detail
