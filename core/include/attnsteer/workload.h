#pragma once
// The attention rows that steering acts on: L layers x H heads x Q queries x K keys.

#include "attnsteer/projection.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace attnsteer {

class TensorFile;
class TransformerBlock;

/// Which workload Workload::generate makes.
enum class WorkloadKind {
    Random,      ///< the write-up's Z ~ Normal(0, sigma)
    Transformer, ///< a simulated transformer attention block (transformer_block.h)
};

/// The transformer workload's own settings; transformer_block.h describes the block.
struct TransformerSpec {
    int headDim = 128; ///< d: the size of a head's queries and keys; even, 8..1024
    /// tau (nats): what a target token adds to the logits of the text queries of image-focused
    /// heads (at distance 0; RoPE's cosine at longer ones). 0..100.
    double targetStrength = 1.25;
    /// First key index of the vision tokens; nullopt: (K - V) / 4, at least 1 (token 0 is the
    /// sink).
    std::optional<int> visionOffset;
    /// The vision tokens' grid; unset: n x n with n = floor(0.75 sqrt(K)) (24 x 24 for K = 1024,
    /// Qwen2-VL-like).
    ImageGrid grid;
};

/// Size and seed of a generated workload (the write-up's defaults).
struct WorkloadSpec {
    int heads = 32;         ///< H
    int queries = 1024;     ///< Q
    int keys = 1024;        ///< K
    double logitStd = 0.1;  ///< sigma, the standard deviation of Z ~ Normal(0, sigma) (random)
    std::uint64_t seed = 0; ///< Philox key
    WorkloadKind kind = WorkloadKind::Random;
    TransformerSpec transformer; ///< used when kind is Transformer
};

/// Where the rows came from.
enum class WorkloadSource {
    RandomLogits,     ///< Z generated from a seed; A = softmax(Z)
    FileLogits,       ///< pre-softmax logits from a file (-inf = masked); A = softmax(Z)
    FileAttention,    ///< probabilities from a file (exact zeros allowed); A as given
    TransformerLogits ///< logits of a simulated transformer block (transformer_block.h)
};

/// Values of a workload, either logits Z (A = softmax of each row) or probabilities A.
///
/// Layers and heads: a workload is a selection of the layers of its source (all of them unless
/// selectLayers chose some). The backends see its layers x H heads as one list of heads(),
/// layer-major: backend head u is head u % H of selected layer u / H. A workload of one layer
/// (every random one, every [Q,K] or [H,Q,K] file) is the plain H x Q x K case.
///
/// Memory: nothing is held per row. A random workload holds only its spec (rows are generated
/// where they are used); a file is read block by block where its rows are used (TensorFile);
/// values given in memory are shared between copies.
class Workload {
  public:
    /// Random (SPEC.kind): Z[h,q,k] = sigma * philoxNormal(seed, Logits, (h*Q + q)*K + k),
    /// rounded to float32. Cheap: nothing is generated here. Throws InputError("workload", ...)
    /// for sizes < 1 or H * Q or K beyond 2^31.
    /// Transformer: the block of transformer_block.h, built here (embeddings, RoPE tables: a few
    /// MB at most); rows are computed where used. Throws InputError about its settings.
    static Workload generate(const WorkloadSpec& spec);
    /// Logits from a dump (attnsteer/tensor_file.h: .npy, .npz, .safetensors, one or more
    /// layers). -inf marks a masked key; a row of only -inf, +inf and NaN are errors (InputError
    /// naming PATH). Reads the whole file once, block by block, to check it.
    static Workload loadLogits(const std::string& path);
    /// Probabilities from a dump: finite, >= 0, every row summing to 1 within 1e-3 (float32/64)
    /// or 2e-2 (float16/bfloat16); used as given ("row (h, q) sums to S, expected 1 within T").
    static Workload loadAttention(const std::string& path);
    /// From values already in memory (tests, GUI), LAYERS x HEADS x QUERIES x KEYS; SOURCE says
    /// which kind they are.
    static Workload fromValues(int heads, int queries, int keys, std::vector<float> values,
                               WorkloadSource source, std::string label = "memory", int layers = 1);

    /// The same values restricted to LAYERS (indices into the source's layers, in the order
    /// given). Throws InputError about "layer" for an index out of range or an empty list.
    Workload selectLayers(std::span<const int> layers) const;

    int layers() const { return int(layerMap_.size()); } ///< layers selected
    int sourceLayers() const { return sourceLayers_; }   ///< layers of the file (or 1)
    /// The source's index of selected layer I.
    int sourceLayer(int i) const { return layerMap_[std::size_t(i)]; }
    int headsPerLayer() const { return headsPerLayer_; } ///< H
    /// The backends' heads: layers() x H, layer-major (see the class comment).
    int heads() const { return layers() * headsPerLayer_; }
    int headOfUnit(int unit) const { return unit % headsPerLayer_; }  ///< head within its layer
    int layerOfUnit(int unit) const { return unit / headsPerLayer_; } ///< selected layer index
    int unitOf(int layer, int head) const { return layer * headsPerLayer_ + head; }
    int queries() const { return queries_; }
    int keys() const { return keys_; }
    std::size_t rowCount() const { return std::size_t(heads()) * queries_; }
    WorkloadSource source() const { return source_; }
    bool holdsLogits() const { return source_ != WorkloadSource::FileAttention; }
    const std::string& label() const { return label_; } ///< file name or "random seed N"
    /// The random workload (the CUDA backend generates it on the device).
    bool isGenerated() const { return source_ == WorkloadSource::RandomLogits; }
    /// The transformer block of a TransformerLogits workload (its layout: vision span, target
    /// flags; its head types), else null.
    const TransformerBlock* transformer() const { return transformer_.get(); }
    const WorkloadSpec& spec() const { return spec_; } ///< sizes (and seed, sigma if generated)
    /// "float16", "bfloat16", "float32", "float64" for a file; "float32" otherwise.
    const std::string& storedDtype() const { return dtype_; }
    /// Identity for caches: equal ids mean equal values (copies share it; a layer selection
    /// gets its own).
    std::uint64_t id() const { return id_; }
    /// Bytes of values held in memory (0 for a generated workload or a file; a transformer's
    /// per-head cache is TransformerBlock::cachedBytes()).
    std::size_t memoryBytes() const { return values_ ? values_->size() * sizeof(float) : 0; }

    /// Rows FIRST .. FIRST + COUNT - 1 (row = unit * Q + q) into OUT, COUNT * K floats: logits
    /// or probabilities as stored, generated from the seed for a random workload.
    void fillRows(std::size_t firstRow, std::size_t count, float* out) const;
    /// The values of row (UNIT, QUERY), K floats.
    std::vector<float> rowValues(int unit, int query) const;
    /// A of row (UNIT, QUERY) in double: softmax of the logits (0 where masked), or the
    /// probabilities as stored.
    void attentionRow(int unit, int query, std::span<double> out) const;

  private:
    static Workload openDump(const std::string& path, WorkloadSource source);
    void readSourceRows(int sourceLayer, std::size_t firstRow, std::size_t count, float* out) const;
    /// Throws InputError naming the file at the first bad value of any layer (see loadLogits,
    /// loadAttention).
    void checkValues() const;

    int sourceLayers_ = 1, headsPerLayer_ = 0, queries_ = 0, keys_ = 0;
    std::vector<int> layerMap_{0};
    WorkloadSource source_ = WorkloadSource::RandomLogits;
    WorkloadSpec spec_;
    std::uint64_t id_ = 0;
    std::string label_;
    std::string dtype_ = "float32";
    std::shared_ptr<const std::vector<float>> values_;    ///< values in memory, or null
    std::shared_ptr<const TensorFile> file_;              ///< the dump, or null
    std::shared_ptr<const TransformerBlock> transformer_; ///< the block, or null
};

/// The layers that --layer CHOICE picks from a source of SOURCE_LAYERS layers: nullopt = all, in
/// order; N >= 0 layer N; N < 0 counts from the end (-1 = the last). Throws InputError about
/// "layer" ("layer 7 is out of range -4..3 (4 layers)").
std::vector<int> chooseLayers(std::optional<int> choice, int sourceLayers);

} // namespace attnsteer
