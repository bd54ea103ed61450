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

/// An opened dump. Layouts accepted, per array: [Q,K], [H,Q,K], [L,H,Q,K], [L,1,H,Q,K]; a file
/// holds either one such array or one [Q,K] / [H,Q,K] / [1,H,Q,K] array per layer, named so that
/// the name ends in the layer index ("layer_0", "attentions.3", "model.layers.12.attn"): layers
/// are ordered by that index; a gap, a repeated index, or layers of different shapes or dtypes
/// is an error. Every header field is checked against the file size before anything is
/// allocated. Errors are InputError naming the file (fileError(path, ...)), one line.
class TensorFile {
  public:
    virtual ~TensorFile() = default;

    /// Opens PATH by its content (the .npy magic, a zip archive, else safetensors), falling back
    /// to the extension only for the message of a file that is none of them.
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
    /// nearest. Thread-safe: may be called from several threads at once. Throws InputError
    /// naming the file when the read fails (file truncated since it was opened, I/O error).
    virtual void readRows(int layer, std::size_t firstRow, std::size_t count,
                          float* out) const = 0;

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
