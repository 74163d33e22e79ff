// tendril/stream/codec.hpp — the codecs of <tendril/core/codec.hpp>, under tendril::stream too.
#pragma once

#include "tendril/core/codec.hpp"  // IWYU pragma: export

namespace tendril::stream {

using tendril::BinaryCodec;
using tendril::CodecFor;
using tendril::JsonCodec;
using tendril::undecodable;

}  // namespace tendril::stream
