#pragma once
// Attention dumps on disk: one or more layers of [H,Q,K] values in .npy, .npz or .safetensors,
// in float16, bfloat16, float32 or float64. Rows are read where they are used, block by block
// (pread at an offset; a compressed .npz member is inflated once into an unlinked temporary
// file), so memory does not grow with the file.

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace attnsteer {

enum class TensorDtype { Float16, BFloat16, Float32, Float64 };

/// "float16", "bfloat16", "float32", "float64".
const char* dtypeName(TensorDtype dtype);

/// Bytes per element of DTYPE.
std::size_t dtypeBytes(TensorDtype dtype);

/// An opened dump. Layouts accepted, per array: [Q,K], [H,Q,K], [L,H,Q,K], [L,1,H,Q,K] (a
/// stacked output_attentions tuple of batch 1; another batch size is an error); a file holds
/// either one such array or one [Q,K] / [H,Q,K] / [1,H,Q,K] array per layer, named so that the
/// name ends in the layer index, its last run of digits ("layer_0", "attentions.3",
/// "model.layers.12"; an .npz member's ".npy" is not part of the name): layers are ordered by
/// that index, not by their place in the file; a gap, a repeated index, a name without index,
/// or layers of different shapes or dtypes is an error. Every header field is checked against
/// the file size before anything is allocated; heads x queries, keys and layers x heads x
/// queries must be below 2^31, and no dimension may be 0. Errors are InputError naming the file
/// (fileError(path, ...)), one line.
///
/// .npy: versions 1.0 to 3.0, '<f2' '<f4' '<f8' and big-endian '>f2' '>f4' '>f8'. .npz: members
/// stored (read in place) or deflated (inflated once at open into an unlinked temporary file in
/// $TMPDIR or /tmp, its size and CRC-32 checked), ZIP64 included. .safetensors: F16, BF16, F32,
/// F64; a JSON header over 100 MB is refused.
class TensorFile {
  public:
    virtual ~TensorFile() = default;

    /// Opens PATH by its content (the .npy magic, a zip archive, else safetensors), falling back
    /// to the extension only for the message of a file that is none of them. A directory is
    /// refused ("cannot open file: Is a directory"), a FIFO or device too, without blocking
    /// ("cannot open file: not a regular file").
    static std::shared_ptr<const TensorFile> open(const std::string& path);

    const std::string& path() const { return path_; }
    int layers() const { return layers_; }
    int heads() const { return heads_; }
    int queries() const { return queries_; }
    int keys() const { return keys_; }
    TensorDtype dtype() const { return dtype_; }
    /// Names of the arrays the layers came from, in layer order (one entry, or none for a .npy).
    const std::vector<std::string>& layerNames() const { return layerNames_; }

    /// Rows FIRST .. FIRST + COUNT - 1 of LAYER (row = head * Q + query, all in one layer) as
    /// float32 into OUT (COUNT * K floats): float16 and bfloat16 exactly, float64 rounded to
    /// nearest. Thread-safe: may be called from several threads at once (pread on one
    /// descriptor, a buffer per thread). Throws InputError naming the file when the read fails
    /// (file truncated since it was opened: "truncated: expected N bytes at offset O, found M";
    /// I/O error), std::out_of_range for a layer or rows outside the dump.
    virtual void readRows(int layer, std::size_t firstRow, std::size_t count, float* out) const = 0;

  protected:
    std::string path_;
    int layers_ = 0, heads_ = 0, queries_ = 0, keys_ = 0;
    TensorDtype dtype_ = TensorDtype::Float32;
    std::vector<std::string> layerNames_;
};

/// IEEE 754 binary16 to float (exact; subnormals, infinities and NaN kept).
float halfToFloat(unsigned short bits);
/// bfloat16 (the upper 16 bits of a float32) to float (exact).
float bfloat16ToFloat(unsigned short bits);
/// float to bfloat16, rounding to nearest, ties to even, as PyTorch stores it (NaN stays NaN).
unsigned short floatToBfloat16(float value);

} // namespace attnsteer
