#pragma once
// The attention rows that steering acts on: H heads x Q queries x K keys.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace attnsteer {

/// Size and seed of the built-in random workload (the write-up's defaults).
struct WorkloadSpec {
    int heads = 32;         ///< H
    int queries = 1024;     ///< Q
    int keys = 1024;        ///< K
    double logitStd = 0.1;  ///< sigma, the standard deviation of Z ~ Normal(0, sigma)
    std::uint64_t seed = 0; ///< Philox key
};

/// Where the rows came from.
enum class WorkloadSource {
    RandomLogits, ///< Z generated from a seed; A = softmax(Z)
    FileLogits,   ///< pre-softmax logits from a .npy file; A = softmax(Z)
    FileAttention ///< probabilities from a .npy file (exact zeros allowed); A as given
};

/// H x Q x K float32 values, either logits Z (A = softmax of each row) or probabilities A.
/// A random workload holds only its spec: its rows are generated where they are used, block by
/// block, so memory stays constant at any size. Files are held in memory as float32.
class Workload {
  public:
    /// Z[h,q,k] = sigma * philoxNormal(seed, Logits, (h*Q + q)*K + k), rounded to float32.
    /// Cheap: nothing is generated here. Throws InputError("workload", ...) for sizes < 1 or
    /// H * Q or K beyond 2^31.
    static Workload generate(const WorkloadSpec& spec);
    /// Logits of shape [Q,K], [H,Q,K] or [1,H,Q,K]; rejects NaN/Inf (InputError naming PATH).
    static Workload loadLogits(const std::string& path);
    /// Probabilities of the same shapes; rejects NaN/Inf, negative values and rows whose sum is
    /// not 1 within 1e-3 ("row (h, q) sums to S, expected 1 within 1e-3").
    static Workload loadAttention(const std::string& path);
    /// From values already in memory (tests, GUI); LOGITS says which kind they are.
    static Workload fromValues(int heads, int queries, int keys, std::vector<float> values,
                               WorkloadSource source, std::string label = "memory");

    int heads() const { return heads_; }
    int queries() const { return queries_; }
    int keys() const { return keys_; }
    std::size_t rowCount() const { return std::size_t(heads_) * queries_; }
    WorkloadSource source() const { return source_; }
    bool holdsLogits() const { return source_ != WorkloadSource::FileAttention; }
    const std::string& label() const { return label_; } ///< file name or "random seed N"
    bool isGenerated() const { return source_ == WorkloadSource::RandomLogits; }
    const WorkloadSpec& spec() const { return spec_; } ///< sizes (and seed, sigma if generated)
    /// Identity for caches: equal ids mean equal values (copies share it).
    std::uint64_t id() const { return id_; }
    /// Bytes held in memory (0 for a generated workload).
    std::size_t memoryBytes() const { return values_.size() * sizeof(float); }

    /// Rows FIRST .. FIRST + COUNT - 1 (row = h * Q + q) into OUT, COUNT * K floats: logits or
    /// probabilities as stored, generated from the seed for a random workload.
    void fillRows(std::size_t firstRow, std::size_t count, float* out) const;
    /// The values of row (h, q), K floats.
    std::vector<float> rowValues(int head, int query) const;
    /// A of row (h, q) in double: softmax of the logits, or the probabilities as stored.
    void attentionRow(int head, int query, std::span<double> out) const;

  private:
    int heads_ = 0, queries_ = 0, keys_ = 0;
    WorkloadSource source_ = WorkloadSource::RandomLogits;
    WorkloadSpec spec_;
    std::uint64_t id_ = 0;
    std::string label_;
    std::vector<float> values_; ///< empty for a generated workload
};

} // namespace attnsteer
