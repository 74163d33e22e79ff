// tendril/core/type_name.hpp — readable type names for error messages.
#pragma once

#include <string>
#include <typeindex>
#include <typeinfo>

namespace tendril::detail {

// The demangled name of a type, e.g. "std::vector<int, std::allocator<int> >".
std::string demangle_index(std::type_index type);
inline std::string demangle(const std::type_info& type) { return demangle_index(type); }

}  // namespace tendril::detail
