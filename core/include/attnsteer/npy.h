#pragma once
// Reading and writing NumPy .npy files (format versions 1.0, 2.0 and 3.0).

#include <cstddef>
#include <span>
#include <string>
#include <vector>

namespace attnsteer {

/// A little-endian, C-order float32 or float64 array as read from a .npy file.
struct NpyArray {
    std::vector<std::size_t> shape; ///< dimensions, outermost first
    std::vector<float> data;        ///< elements in C order, converted to float32
    int sourceBytesPerElement = 4;  ///< 4 for '<f4', 8 for '<f8' in the file
    std::size_t elementCount() const;
};

/// Reads PATH. Accepts dtypes '<f4' and '<f8' (also '|f4'-style byte-order markers where the
/// size is one byte and never for floats), fortran_order False, any shape.
/// Throws InputError("PATH", problem) with a one-line problem for: a missing or unreadable file,
/// a file without the \x93NUMPY magic ("not a .npy file"), an unsupported version, a malformed
/// header, a dtype other than float32/float64 little-endian ("dtype is <i4, expected float32 or
/// float64 (little-endian)"), fortran_order True ("Fortran order is not supported; save with
/// numpy.ascontiguousarray"), a data section shorter than the shape needs ("truncated: expected N
/// bytes of data, found M"). Checks the size before allocating.
NpyArray readNpy(const std::string& path);

/// Writes float32 data with SHAPE to PATH as a version 1.0 .npy file.
/// Throws InputError("PATH", problem) when the file cannot be written.
void writeNpy(const std::string& path, std::span<const std::size_t> shape,
              std::span<const float> data);

} // namespace attnsteer
