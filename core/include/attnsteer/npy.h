#pragma once
// Reading and writing NumPy .npy files (format versions 1.0, 2.0 and 3.0).

#include <cstddef>
#include <span>
#include <string>
#include <vector>

namespace attnsteer {

/// A C-order float16, float32 or float64 array as read from a .npy file.
struct NpyArray {
    std::vector<std::size_t> shape; ///< dimensions, outermost first
    std::vector<float> data;        ///< elements in C order, converted to float32
    int sourceBytesPerElement = 4;  ///< 2 for '<f2', 4 for '<f4', 8 for '<f8' in the file
    std::size_t elementCount() const;
};

/// Reads PATH. Accepts dtypes '<f2', '<f4' and '<f8', big-endian ('>f4', byte-swapped) and
/// native ('=f4') too, fortran_order False, any shape. The header is parsed by the same code as
/// TensorFile's (tensor_file.h).
/// Throws InputError("PATH", problem) with a one-line problem for: a missing or unreadable file
/// ("cannot open file: No such file or directory"), a directory or another file that is not a
/// regular one, a file without the \x93NUMPY magic ("not a .npy file"), an unsupported version,
/// a malformed header (a shape number with a leading zero included), a dtype other than
/// float16/32/64 ("dtype is <i4, expected float16, float32 or float64"), fortran_order True
/// ("Fortran order is not supported; save with numpy.ascontiguousarray"), a data section shorter
/// than the shape needs ("truncated: expected N bytes of data, found M"). Checks the size before
/// allocating.
NpyArray readNpy(const std::string& path);

/// Writes float32 data with SHAPE to PATH as a version 1.0 .npy file.
/// Throws InputError("PATH", problem) when the file cannot be written.
void writeNpy(const std::string& path, std::span<const std::size_t> shape,
              std::span<const float> data);

} // namespace attnsteer
