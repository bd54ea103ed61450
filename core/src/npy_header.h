#pragma once
// Private to the core: the one .npy header parser, shared by readNpy (npy.cpp) and the
// tensor-file reader (a .npy file, or a .npy member of an .npz archive).

#include "attnsteer/tensor_file.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace attnsteer::detail {

/// The largest element count an .npy header may declare (2^59: its bytes fit in 63 bits for
/// every dtype). readNpy, which allocates, has a tighter limit.
constexpr std::uint64_t kMaxNpyElements = std::uint64_t(1) << 59;

/// A parsed, checked .npy header.
struct NpyHeader {
    std::vector<std::size_t> shape;
    TensorDtype dtype = TensorDtype::Float32;
    bool bigEndian = false;
    std::uint64_t elements = 0;   ///< product of SHAPE (0 when a dimension is 0)
    std::uint64_t dataOffset = 0; ///< where the data starts, from the start of the .npy
};

/// Reads up to BYTES at OFFSET (from the start of the .npy) into BUFFER; returns the bytes read.
using NpyReadAt = std::function<std::size_t(void* buffer, std::size_t bytes, std::uint64_t offset)>;

/// Parses the .npy whose SIZE bytes READ gives: magic, version 1.0/2.0/3.0, the header dict,
/// the dtype ('<f2' '<f4' '<f8', big-endian '>' and native '=' too), fortran_order False, the
/// shape (at most MAX_ELEMENTS elements), and the data size against SIZE (exactly the shape's
/// bytes: "truncated: expected N bytes of data, found M", "N extra bytes after the data").
/// Errors are fileError(PATH, PREFIX + problem), PREFIX naming an archive member or empty.
NpyHeader readNpyHeader(const std::string& path, const std::string& prefix, std::uint64_t size,
                        const NpyReadAt& read, std::uint64_t maxElements = kMaxNpyElements);

} // namespace attnsteer::detail
