#include "attnsteer/transformer_block.h"

#include "attnsteer/errors.h"
#include "attnsteer/random.h"

#include <Eigen/Core>

#include <algorithm>
#include <array>
#include <cmath>
#include <future>
#include <limits>
#include <map>
#include <mutex>
#include <string>
#include <utility>

namespace attnsteer {
namespace {

constexpr int kMaxHeadDim = 1024;
constexpr double kMaxTargetStrength = 100;
constexpr int kRowGroup = 8; ///< query rows that share one pass over a key block

/// Slots of the TransformerWeights stream, per head.
enum WeightSlot : std::uint64_t {
    kSlotGq = 0,
    kSlotGk = 1,
    kSlotLocal = 2,
    kSlotSemantic = 3,
    kSlotSink = 4,
    kSlotsPerHead = 8
};

std::uint64_t weightIndex(int head, WeightSlot slot, std::uint64_t j) {
    return ((std::uint64_t(head) * kSlotsPerHead + slot) << 24) + j;
}

constexpr HeadParams kParams[] = {
    // l, sigma, mu, tau (set from the spec), g
    {1.0, 3.0, 2.5, 0.0, 1.0},     // image-focused
    {14.0, 3.0, 0.0, 0.0, 0.7071}, // local: g^2 = 0.5
    {2.0, 3.0, 0.0, 0.0, 1.2},     // global: g^2 = 1.44
    {2.0, 9.0, 0.0, 0.0, 0.7071},  // sink-dominated
};

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// A * B + C, the same in every block and thread: fused where the build has FMA, else a multiply
/// and an add that -ffp-contract=off keeps apart.
inline float multiplyAdd(float a, float b, float c) {
#ifdef __FMA__
    return std::fma(a, b, c);
#else
    return a * b + c;
#endif
}

/// One head's rotated queries (Q x d, times 1/sqrt(d)) and keys, packed for the product: key
/// block b holds kKeyBlock keys x d as d rows of kKeyBlock floats (zeros past K).
struct HeadData {
    std::vector<float> queries;
    std::vector<float> keysPacked;
    std::size_t bytes() const { return (queries.size() + keysPacked.size()) * sizeof(float); }
};

/// Logits of NR query rows (row r at Q + r d) against key block KEYS (d x kKeyBlock) into ACC.
template <int NR>
void logitTile(const float* queries, int d, const float* keys,
               float acc[][TransformerBlock::kKeyBlock]) {
    constexpr int kBlock = TransformerBlock::kKeyBlock;
    float sums[NR][kBlock] = {};
    for (int c = 0; c < d; ++c) {
        const float* k = keys + std::size_t(c) * kBlock;
        for (int r = 0; r < NR; ++r) {
            const float q = queries[std::size_t(r) * d + c];
#pragma omp simd
            for (int j = 0; j < kBlock; ++j)
                sums[r][j] = multiplyAdd(q, k[j], sums[r][j]);
        }
    }
    for (int r = 0; r < NR; ++r)
        for (int j = 0; j < kBlock; ++j)
            acc[r][j] = sums[r][j];
}

using TileFunction = void (*)(const float*, int, const float*,
                              float[][TransformerBlock::kKeyBlock]);

/// logitTile<1> .. logitTile<kRowGroup>, by rows - 1.
template <int... Rows>
constexpr std::array<TileFunction, sizeof...(Rows)> tileTable(std::integer_sequence<int, Rows...>) {
    return {logitTile<Rows + 1>...};
}
constexpr auto kTiles = tileTable(std::make_integer_sequence<int, kRowGroup>());

} // namespace

std::string_view headTypeName(HeadType type) {
    constexpr std::string_view kNames[] = {"image-focused", "local", "global", "sink-dominated"};
    return kNames[int(type)];
}

bool TransformerLayout::isTarget(int key) const {
    if (!isVision(key))
        return false;
    const int inFrame = (key - visionOffset) % (grid.rows * grid.cols);
    const int row = inFrame / grid.cols, col = inFrame % grid.cols;
    return row >= targetTop && row < targetTop + targetRows && col >= targetLeft &&
           col < targetLeft + targetCols;
}

GroundingKeys TransformerLayout::groundingKeys() const {
    GroundingKeys keys;
    keys.visionStart = visionOffset;
    keys.visionCount = visionTokens();
    keys.grid = grid;
    keys.target = targetFlags();
    return keys;
}

std::vector<unsigned char> TransformerLayout::targetFlags() const {
    std::vector<unsigned char> flags(std::size_t(keys), 0);
    for (int k = visionOffset; k < visionEnd(); ++k)
        flags[std::size_t(k)] = isTarget(k) ? 1 : 0;
    return flags;
}

std::vector<unsigned char> TransformerLayout::visionFlags() const {
    std::vector<unsigned char> flags(std::size_t(keys), 0);
    std::fill(flags.begin() + visionOffset, flags.begin() + visionEnd(), 1);
    return flags;
}

TransformerLayout transformerLayout(const WorkloadSpec& spec) {
    const TransformerSpec& t = spec.transformer;
    if (spec.heads < 1)
        throw settingError("heads", "must be at least 1");
    if (spec.keys < 2)
        throw settingError("keys", "must be at least 2 for the transformer workload (a sink "
                                   "token and a vision token)");
    if (spec.queries < 1)
        throw settingError("queries", "must be at least 1");
    if (spec.queries > spec.keys)
        throw settingError("queries", "must not exceed the keys (" + std::to_string(spec.keys) +
                                          ") for the transformer workload (the last Q tokens "
                                          "ask)");
    if ((long long)spec.heads * spec.queries > std::numeric_limits<int>::max())
        throw inputError("workload", "heads x queries must be below 2^31");
    if (t.headDim < 8 || t.headDim > kMaxHeadDim || t.headDim % 2 != 0)
        throw settingError("head-dim",
                           "must be an even number from 8 to " + std::to_string(kMaxHeadDim));
    // Memory follows the sizes here (K x (32 + d) doubles of tables, (Q + K) x d floats a head):
    // 2^24 keys x d is 300 MB at most, 131072 keys at d = 128.
    if (std::int64_t(spec.keys) * t.headDim > (std::int64_t(1) << 24))
        throw settingError("keys", "keys x head-dim must be at most 2^24 for the transformer "
                                   "workload (131072 keys at head-dim 128)");
    if (!(t.targetStrength >= 0 && t.targetStrength <= kMaxTargetStrength))
        throw settingError("target-strength", "must be between 0 and 100");

    TransformerLayout layout;
    layout.keys = spec.keys;
    layout.queries = spec.queries;
    if (t.grid.isSet()) {
        checkImageGrid(t.grid);
        layout.grid = t.grid;
    } else {
        const int side = std::max(1, int(std::floor(0.75 * std::sqrt(double(spec.keys)))));
        layout.grid = ImageGrid{1, side, side};
    }
    const std::int64_t vision = layout.grid.tokenCount();
    const std::int64_t offset =
        t.visionOffset ? std::int64_t(*t.visionOffset)
                       : std::max<std::int64_t>(1, (std::int64_t(spec.keys) - vision) / 4);
    const std::string gridText =
        (layout.grid.frames > 1 ? std::to_string(layout.grid.frames) + "x" : std::string()) +
        std::to_string(layout.grid.rows) + "x" + std::to_string(layout.grid.cols);
    if (offset < 1)
        throw settingError("vision-offset",
                           "must be at least 1 for the transformer workload (token 0 is the sink)");
    if (offset + vision > spec.keys)
        throw settingError(t.visionOffset ? "vision-offset" : "image-grid",
                           "the " + gridText + " = " + std::to_string(vision) +
                               " vision tokens at offset " + std::to_string(offset) +
                               " do not fit into " + std::to_string(spec.keys) + " keys");
    layout.visionOffset = int(offset);

    // The target: a fifth of each side (at least one token), anywhere on the grid.
    layout.targetRows = std::max(1, (layout.grid.rows + 2) / 5);
    layout.targetCols = std::max(1, (layout.grid.cols + 2) / 5);
    const double u0 = philoxUniform(spec.seed, RandomStream::TransformerLayout, 0);
    const double u1 = philoxUniform(spec.seed, RandomStream::TransformerLayout, 1);
    layout.targetTop = int(u0 * (layout.grid.rows - layout.targetRows + 1));
    layout.targetLeft = int(u1 * (layout.grid.cols - layout.targetCols + 1));
    return layout;
}

struct TransformerBlock::Impl {
    WorkloadSpec spec;
    TransformerLayout layout;
    int d = 0, pairs = 0, keyBlocks = 0;
    std::vector<double> noise;               ///< K x R: n_t
    std::vector<double> cosTable;            ///< K x P: cos(t theta_i)
    std::vector<double> sinTable;            ///< K x P
    std::vector<unsigned char> tokenFeature; ///< K x kFeatures (0/1), e_t's first coordinates
    std::size_t capacity = kMinCachedHeads;

    struct Entry {
        std::shared_future<std::shared_ptr<const HeadData>> data;
        std::uint64_t lastUse = 0;
        std::size_t bytes = 0; ///< 0 while it is computed
    };
    mutable std::mutex mutex;
    mutable std::map<int, Entry> cache;
    mutable std::uint64_t clock = 0;

    /// The D x d matrices W_q and W_k of HEAD (row-major), as the header defines them.
    void weights(int head, RowMatrix& wq, RowMatrix& wk) const;
    std::shared_ptr<const HeadData> computeHead(int head) const;
    std::shared_ptr<const HeadData> head(int head) const;
    void rows(const HeadData& data, int firstQuery, int count, float* out) const;
};

void TransformerBlock::Impl::weights(int head, RowMatrix& wq, RowMatrix& wk) const {
    const int rank = kNoiseRank, features = kFeatures;
    const HeadType type = headType(head);
    HeadParams params = kParams[int(type)];
    if (type == HeadType::ImageFocused)
        params.target = spec.transformer.targetStrength;
    const std::uint64_t seed = spec.seed;
    const int localEnd = pairs / 2;
    const int semanticBegin = std::min(3 * pairs / 4, pairs - 2);
    const int sinkPair = pairs - 1;

    // A planted direction: normals on the pairs [BEGIN, END), scaled to |v|^2 = sqrt(d).
    auto direction = [&](WeightSlot slot, int begin, int end) {
        std::vector<double> v(std::size_t(d), 0.0);
        double squares = 0;
        for (int i = begin; i < end; ++i)
            for (int dim : {i, i + pairs}) {
                v[std::size_t(dim)] = philoxNormal(seed, RandomStream::TransformerWeights,
                                                   weightIndex(head, slot, dim));
                squares += v[std::size_t(dim)] * v[std::size_t(dim)];
            }
        const double scale = std::sqrt(std::sqrt(double(d)) / squares);
        for (double& x : v)
            x *= scale;
        return Eigen::Map<const Eigen::RowVectorXd>(v.data(), d).eval();
    };
    const Eigen::RowVectorXd c = direction(kSlotLocal, 0, localEnd);
    const Eigen::RowVectorXd a = direction(kSlotSemantic, semanticBegin, sinkPair);
    const Eigen::RowVectorXd u = direction(kSlotSink, sinkPair, pairs);

    wq.setZero(features + rank, d);
    wk.setZero(features + rank, d);
    const double rootLocal = std::sqrt(params.local);
    wq.row(0) = rootLocal * c + u;
    wk.row(0) = rootLocal * c;
    wk.row(1) = params.sink * u;
    if (type == HeadType::ImageFocused)
        wq.row(2) = a;
    wk.row(3) = params.vision * a;
    wk.row(4) = params.target * a;
    const double gain = params.noiseGain / std::sqrt(double(rank));
    for (auto [slot, w] : {std::pair{kSlotGq, &wq}, std::pair{kSlotGk, &wk}}) {
        std::vector<double> normals(std::size_t(rank) * d);
        philoxNormals(seed, RandomStream::TransformerWeights, weightIndex(head, slot, 0),
                      normals.size(), normals.data());
        for (int r = 0; r < rank; ++r)
            for (int col = 0; col < d; ++col)
                if (col % pairs != sinkPair) // the sink pair carries the sink alone
                    (*w)(features + r, col) = gain * normals[std::size_t(r) * d + col];
    }
}

std::shared_ptr<const HeadData> TransformerBlock::Impl::computeHead(int head) const {
    RowMatrix wq, wk;
    weights(head, wq, wk);
    const int keys = layout.keys, queries = layout.queries, rank = kNoiseRank;
    const Eigen::Map<const RowMatrix> noiseMatrix(noise.data(), keys, rank);

    // Tokens FIRST .. FIRST + COUNT - 1 through W, rotated: COUNT x d.
    auto project = [&](const RowMatrix& w, int first, int count) {
        RowMatrix x = noiseMatrix.middleRows(first, count) * w.bottomRows(rank);
        for (int i = 0; i < count; ++i) {
            const int t = first + i;
            for (int f = 0; f < kFeatures; ++f)
                if (tokenFeature[std::size_t(t) * kFeatures + f])
                    x.row(i) += w.row(f);
            const double* cosine = cosTable.data() + std::size_t(t) * pairs;
            const double* sine = sinTable.data() + std::size_t(t) * pairs;
            for (int p = 0; p < pairs; ++p) {
                const double x0 = x(i, p), x1 = x(i, p + pairs);
                x(i, p) = x0 * cosine[p] - x1 * sine[p];
                x(i, p + pairs) = x0 * sine[p] + x1 * cosine[p];
            }
        }
        return x;
    };
    auto data = std::make_shared<HeadData>();
    const RowMatrix q = project(wq, keys - queries, queries) / std::sqrt(double(d));
    data->queries.resize(std::size_t(queries) * d);
    Eigen::Map<Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
        data->queries.data(), queries, d) = q.cast<float>();
    const RowMatrix k = project(wk, 0, keys);
    data->keysPacked.assign(std::size_t(keyBlocks) * d * kKeyBlock, 0.0f);
    for (int key = 0; key < keys; ++key) {
        float* block = data->keysPacked.data() + std::size_t(key / kKeyBlock) * d * kKeyBlock;
        for (int c = 0; c < d; ++c)
            block[std::size_t(c) * kKeyBlock + key % kKeyBlock] = float(k(key, c));
    }
    return data;
}

std::shared_ptr<const HeadData> TransformerBlock::Impl::head(int h) const {
    std::unique_lock lock(mutex);
    if (auto it = cache.find(h); it != cache.end()) {
        it->second.lastUse = ++clock;
        const auto future = it->second.data;
        lock.unlock();
        return future.get();
    }
    std::promise<std::shared_ptr<const HeadData>> promise;
    cache[h] = Entry{promise.get_future().share(), ++clock, 0};
    // The least recently used heads go; a thread still using one keeps its data alive.
    while (cache.size() > capacity) {
        auto oldest = cache.end();
        for (auto it = cache.begin(); it != cache.end(); ++it)
            if (it->first != h &&
                (oldest == cache.end() || it->second.lastUse < oldest->second.lastUse))
                oldest = it;
        cache.erase(oldest);
    }
    lock.unlock();
    std::shared_ptr<const HeadData> data;
    try {
        data = computeHead(h);
    } catch (...) {
        promise.set_exception(std::current_exception());
        lock.lock();
        cache.erase(h);
        throw;
    }
    promise.set_value(data);
    lock.lock();
    if (auto it = cache.find(h); it != cache.end())
        it->second.bytes = data->bytes();
    return data;
}

void TransformerBlock::Impl::rows(const HeadData& data, int firstQuery, int count,
                                  float* out) const {
    const int keys = layout.keys;
    constexpr float kMasked = -std::numeric_limits<float>::infinity();
    float tile[kRowGroup][kKeyBlock];
    for (int group = 0; group < count; group += kRowGroup) {
        const int rowsHere = std::min(kRowGroup, count - group);
        const int firstRow = firstQuery + group;
        const float* queries = data.queries.data() + std::size_t(firstRow) * d;
        const int lastPosition = layout.position(firstRow + rowsHere - 1);
        const int blocks = lastPosition / kKeyBlock + 1; // the rest is masked for every row here
        const TileFunction tileFunction = kTiles[std::size_t(rowsHere - 1)];
        for (int b = 0; b < blocks; ++b) {
            tileFunction(queries, d, data.keysPacked.data() + std::size_t(b) * d * kKeyBlock, tile);
            const int firstKey = b * kKeyBlock, keysHere = std::min(kKeyBlock, keys - firstKey);
            for (int r = 0; r < rowsHere; ++r) {
                const int position = layout.position(firstRow + r);
                float* row = out + std::size_t(group + r) * keys + firstKey;
                for (int j = 0; j < keysHere; ++j)
                    row[j] = firstKey + j <= position ? tile[r][j] : kMasked;
            }
        }
        for (int r = 0; r < rowsHere; ++r) {
            float* row = out + std::size_t(group + r) * keys;
            std::fill(row + std::min(keys, blocks * kKeyBlock), row + keys, kMasked);
        }
    }
}

TransformerBlock::TransformerBlock(const WorkloadSpec& spec, std::size_t cacheBytes)
    : impl_(std::make_unique<Impl>()) {
    Impl& m = *impl_;
    m.layout = transformerLayout(spec);
    m.spec = spec;
    m.d = spec.transformer.headDim;
    m.pairs = m.d / 2;
    const int keys = spec.keys;
    m.keyBlocks = (keys + kKeyBlock - 1) / kKeyBlock;

    m.noise.resize(std::size_t(keys) * kNoiseRank);
    philoxNormals(spec.seed, RandomStream::TransformerEmbedding, 0, m.noise.size(), m.noise.data());
    m.cosTable.resize(std::size_t(keys) * m.pairs);
    m.sinTable.resize(m.cosTable.size());
    for (int p = 0; p < m.pairs; ++p) {
        const double theta = std::pow(kRopeBase, -double(p) / m.pairs);
        for (int t = 0; t < keys; ++t) {
            m.cosTable[std::size_t(t) * m.pairs + p] = std::cos(t * theta);
            m.sinTable[std::size_t(t) * m.pairs + p] = std::sin(t * theta);
        }
    }
    m.tokenFeature.assign(std::size_t(keys) * kFeatures, 0);
    for (int t = 0; t < keys; ++t) {
        unsigned char* f = m.tokenFeature.data() + std::size_t(t) * kFeatures;
        f[0] = 1;
        f[1] = t == 0;
        f[2] = m.layout.isText(t);
        f[3] = m.layout.isVision(t);
        f[4] = m.layout.isTarget(t);
    }
    m.capacity = std::max<std::size_t>(kMinCachedHeads, cacheBytes / headBytes());
}

TransformerBlock::~TransformerBlock() = default;

const WorkloadSpec& TransformerBlock::spec() const {
    return impl_->spec;
}
const TransformerLayout& TransformerBlock::layout() const {
    return impl_->layout;
}
int TransformerBlock::heads() const {
    return impl_->spec.heads;
}
int TransformerBlock::headDim() const {
    return impl_->d;
}

HeadType TransformerBlock::headType(int head) {
    constexpr HeadType kPattern[8] = {
        HeadType::ImageFocused, HeadType::Local, HeadType::Global, HeadType::SinkDominated,
        HeadType::ImageFocused, HeadType::Local, HeadType::Global, HeadType::Global};
    return kPattern[head % 8];
}

HeadParams TransformerBlock::headParams(int head) const {
    HeadParams params = kParams[int(headType(head))];
    if (headType(head) == HeadType::ImageFocused)
        params.target = impl_->spec.transformer.targetStrength;
    return params;
}

void TransformerBlock::fillRows(std::size_t firstRow, std::size_t count, float* out) const {
    const std::size_t queries = std::size_t(impl_->layout.queries);
    const std::size_t keys = std::size_t(impl_->layout.keys);
    while (count > 0) {
        const int head = int(firstRow / queries), query = int(firstRow % queries);
        const std::size_t n = std::min(count, queries - std::size_t(query));
        const auto data = impl_->head(head);
        impl_->rows(*data, query, int(n), out);
        firstRow += n;
        count -= n;
        out += n * keys;
    }
}

std::size_t TransformerBlock::cacheCapacityHeads() const {
    return impl_->capacity;
}

std::size_t TransformerBlock::cachedHeads() const {
    const std::lock_guard lock(impl_->mutex);
    return impl_->cache.size();
}

std::size_t TransformerBlock::cachedBytes() const {
    const std::lock_guard lock(impl_->mutex);
    std::size_t bytes = 0;
    for (const auto& entry : impl_->cache)
        bytes += entry.second.bytes;
    return bytes;
}

std::size_t TransformerBlock::headBytes() const {
    const Impl& m = *impl_;
    return (std::size_t(m.layout.queries) * m.d + std::size_t(m.keyBlocks) * m.d * kKeyBlock) *
           sizeof(float);
}

std::size_t TransformerBlock::sharedBytes() const {
    const Impl& m = *impl_;
    return (m.noise.size() + m.cosTable.size() + m.sinTable.size()) * sizeof(double) +
           m.tokenFeature.size();
}

} // namespace attnsteer
