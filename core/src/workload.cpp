#include "attnsteer/workload.h"

#include "attnsteer/errors.h"
#include "attnsteer/random.h"
#include "attnsteer/tensor_file.h"
#include "attnsteer/transformer_block.h"

#include <Eigen/Core>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <exception>
#include <limits>
#include <mutex>

namespace attnsteer {
namespace {

std::uint64_t nextWorkloadId() {
    static std::atomic<std::uint64_t> counter{0};
    return ++counter;
}

/// Rows per block of the check pass: 32 rows of 1024 keys are 128 KiB of floats per thread.
constexpr std::size_t kCheckBlockRows = 32;
constexpr std::size_t kNoRow = std::numeric_limits<std::size_t>::max();

/// Where a row of the source is, as numpy would index the file: "(h, q" or "(l, h, q" (without
/// the closing parenthesis, so that a key can follow).
std::string rowPosition(std::size_t row, int layers, int heads, int queries) {
    const std::size_t q = row % std::size_t(queries), unit = row / std::size_t(queries);
    const std::size_t h = unit % std::size_t(heads), l = unit / std::size_t(heads);
    std::string text = "(";
    if (layers > 1)
        text += std::to_string(l) + ", ";
    return text + std::to_string(h) + ", " + std::to_string(q);
}

/// Whether a row passes the checks of loadLogits / loadAttention, in loops that vectorize
/// (counts of failed comparisons; the sum in double through Eigen, which may reorder it).
bool rowLooksRight(const float* values, std::size_t keys, bool logits, double tolerance) {
    constexpr float kLargest = std::numeric_limits<float>::max();
    constexpr float kMinusInfinity = -std::numeric_limits<float>::infinity();
    int bad = 0, unmasked = 0;
    if (logits) {
        for (std::size_t k = 0; k < keys; ++k) {
            bad += !(values[k] <= kLargest); // NaN and +inf; -inf is a mask
            unmasked += values[k] > kMinusInfinity;
        }
        return bad == 0 && unmasked > 0;
    }
    for (std::size_t k = 0; k < keys; ++k)
        bad += !(values[k] >= 0.0f && values[k] <= kLargest); // NaN, inf, negative
    if (bad)
        return false;
    const double sum =
        Eigen::Map<const Eigen::ArrayXf>(values, Eigen::Index(keys)).cast<double>().sum();
    return std::abs(sum - 1.0) <= tolerance;
}

/// The spec of values that were not generated: their sizes (sigma and seed 0).
WorkloadSpec sizesOnly(int heads, int queries, int keys) {
    WorkloadSpec spec;
    spec.heads = heads;
    spec.queries = queries;
    spec.keys = keys;
    spec.logitStd = 0.0;
    return spec;
}

} // namespace

Workload Workload::generate(const WorkloadSpec& spec) {
    Workload workload;
    const bool transformer = spec.kind == WorkloadKind::Transformer;
    if (transformer) {
        workload.transformer_ = std::make_shared<const TransformerBlock>(spec); // checks SPEC
    } else {
        constexpr long long kIntMax = std::numeric_limits<int>::max();
        if (spec.heads < 1 || spec.queries < 1 || spec.keys < 1)
            throw inputError("workload", "heads, queries and keys must be at least 1");
        if ((long long)spec.heads * spec.queries > kIntMax)
            throw inputError("workload", "heads x queries must be below 2^31");
        if (!(spec.logitStd >= 0) || !std::isfinite(spec.logitStd))
            throw settingError("logit-std", "must be a finite number >= 0");
        // sigma z must stay a float32 (1e39 overflowed to inf, then NaN); 1e6 nats already make
        // every row one-hot.
        if (spec.logitStd > 1e6)
            throw settingError("logit-std", "must be at most 1e6");
    }
    workload.headsPerLayer_ = spec.heads;
    workload.queries_ = spec.queries;
    workload.keys_ = spec.keys;
    workload.source_ =
        transformer ? WorkloadSource::TransformerLogits : WorkloadSource::RandomLogits;
    workload.spec_ = spec;
    workload.id_ = nextWorkloadId();
    workload.label_ =
        std::string(transformer ? "transformer" : "random") + ", seed " + std::to_string(spec.seed);
    return workload;
}

Workload Workload::openDump(const std::string& path, WorkloadSource source) {
    Workload workload;
    workload.file_ = TensorFile::open(path);
    const TensorFile& file = *workload.file_;
    workload.source_ = source;
    workload.label_ = path;
    workload.sourceLayers_ = file.layers();
    workload.headsPerLayer_ = file.heads();
    workload.queries_ = file.queries();
    workload.keys_ = file.keys();
    workload.dtype_ = dtypeName(file.dtype());
    workload.layerMap_.resize(std::size_t(file.layers()));
    for (int l = 0; l < file.layers(); ++l)
        workload.layerMap_[std::size_t(l)] = l;
    workload.spec_ = sizesOnly(file.heads(), file.queries(), file.keys());
    workload.id_ = nextWorkloadId();
    workload.checkValues();
    return workload;
}

Workload Workload::loadLogits(const std::string& path) {
    return openDump(path, WorkloadSource::FileLogits);
}

Workload Workload::loadAttention(const std::string& path) {
    return openDump(path, WorkloadSource::FileAttention);
}

Workload Workload::fromValues(int heads, int queries, int keys, std::vector<float> values,
                              WorkloadSource source, std::string label, int layers) {
    if (layers < 1 || heads < 1 || queries < 1 || keys < 1 ||
        values.size() != std::size_t(layers) * heads * queries * keys)
        throw fileError(label, "values do not match the shape " +
                                   (layers > 1 ? std::to_string(layers) + " x " : "") +
                                   std::to_string(heads) + " x " + std::to_string(queries) + " x " +
                                   std::to_string(keys));
    Workload workload;
    workload.sourceLayers_ = layers;
    workload.layerMap_.resize(std::size_t(layers));
    for (int l = 0; l < layers; ++l)
        workload.layerMap_[std::size_t(l)] = l;
    workload.headsPerLayer_ = heads;
    workload.queries_ = queries;
    workload.keys_ = keys;
    workload.source_ = source;
    workload.label_ = std::move(label);
    workload.values_ = std::make_shared<const std::vector<float>>(std::move(values));
    workload.spec_ = sizesOnly(heads, queries, keys);
    workload.id_ = nextWorkloadId();
    return workload;
}

Workload Workload::selectLayers(std::span<const int> layers) const {
    if (layers.empty())
        throw settingError("layer", "no layer selected");
    for (int layer : layers)
        if (layer < 0 || layer >= sourceLayers_)
            throw settingError("layer", "layer " + std::to_string(layer) + " is out of range 0.." +
                                            std::to_string(sourceLayers_ - 1));
    Workload selection = *this;
    selection.layerMap_.assign(layers.begin(), layers.end());
    selection.id_ = nextWorkloadId();
    return selection;
}

void Workload::checkValues() const {
    const bool logits = holdsLogits();
    const bool halfPrecision = dtype_ == "float16" || dtype_ == "bfloat16";
    const double tolerance = halfPrecision ? 2e-2 : 1e-3;
    const char* toleranceText = halfPrecision ? "2e-2" : "1e-3";
    const std::size_t keys = std::size_t(keys_);
    const std::size_t rowsPerLayer = std::size_t(headsPerLayer_) * std::size_t(queries_);
    const std::size_t rows = std::size_t(sourceLayers_) * rowsPerLayer;
    const std::size_t blocks = (rows + kCheckBlockRows - 1) / kCheckBlockRows;

    // The first bad row of the whole file is reported, whatever the thread count: blocks after
    // a known bad row are skipped, blocks before it still run.
    std::atomic<std::size_t> firstBadRow{kNoRow};
    std::mutex mutex;
    std::string message;
    std::exception_ptr failure;
    auto report = [&](std::size_t row, std::string text) {
        const std::lock_guard lock(mutex);
        if (row < firstBadRow.load()) {
            firstBadRow = row;
            message = std::move(text);
        }
    };
#pragma omp parallel
    {
        std::vector<float> buffer(kCheckBlockRows * keys);
#pragma omp for schedule(dynamic)
        for (std::int64_t block = 0; block < std::int64_t(blocks); ++block) {
            const std::size_t first = std::size_t(block) * kCheckBlockRows;
            if (first > firstBadRow.load(std::memory_order_relaxed))
                continue;
            const std::size_t count = std::min(kCheckBlockRows, rows - first);
            try {
                for (std::size_t done = 0; done < count;) { // a block may cross layers
                    const std::size_t row = first + done;
                    const std::size_t layer = row / rowsPerLayer, inLayer = row % rowsPerLayer;
                    const std::size_t n = std::min(count - done, rowsPerLayer - inLayer);
                    readSourceRows(int(layer), inLayer, n, buffer.data() + done * keys);
                    done += n;
                }
            } catch (...) {
                const std::lock_guard lock(mutex);
                if (!failure)
                    failure = std::current_exception();
                continue;
            }
            for (std::size_t i = 0; i < count; ++i) {
                const std::size_t row = first + i;
                const float* values = buffer.data() + i * keys;
                if (rowLooksRight(values, keys, logits, tolerance))
                    continue; // the scan below only finds and words the problem
                auto at = [&](std::size_t k) {
                    return " at " + rowPosition(row, sourceLayers_, headsPerLayer_, queries_) +
                           ", " + std::to_string(k) + ")";
                };
                std::string problem;
                double sum = 0;
                bool anyUnmasked = false;
                for (std::size_t k = 0; k < keys && problem.empty(); ++k) {
                    const float v = values[k];
                    if (logits) {
                        if (std::isnan(v))
                            problem = "contains NaN" + at(k);
                        else if (v == std::numeric_limits<float>::infinity())
                            problem = "contains +Inf" + at(k);
                        anyUnmasked = anyUnmasked || v > -std::numeric_limits<float>::infinity();
                    } else if (!std::isfinite(v)) {
                        problem = "contains NaN or Inf" + at(k);
                    } else if (v < 0) {
                        problem = "negative probability" + at(k);
                    } else {
                        sum += v;
                    }
                }
                const std::string position =
                    rowPosition(row, sourceLayers_, headsPerLayer_, queries_) + ")";
                if (problem.empty() && logits && !anyUnmasked)
                    problem = "row " + position + " is masked everywhere (every logit is -inf)";
                if (problem.empty() && !logits && std::abs(sum - 1.0) > tolerance) {
                    char text[64];
                    std::snprintf(text, sizeof text, "%.6g", sum);
                    problem = "row " + position + " sums to " + text + ", expected 1 within " +
                              toleranceText;
                }
                if (!problem.empty()) {
                    report(row, std::move(problem));
                    break;
                }
            }
        }
    }
    if (failure)
        std::rethrow_exception(failure);
    if (firstBadRow.load() != kNoRow)
        throw fileError(label_, message);
}

void Workload::readSourceRows(int sourceLayer, std::size_t firstRow, std::size_t count,
                              float* out) const {
    const std::size_t keys = std::size_t(keys_);
    if (file_) {
        file_->readRows(sourceLayer, firstRow, count, out);
        return;
    }
    const std::size_t rowsPerLayer = std::size_t(headsPerLayer_) * std::size_t(queries_);
    std::copy_n(values_->data() + (std::size_t(sourceLayer) * rowsPerLayer + firstRow) * keys,
                count * keys, out);
}

void Workload::fillRows(std::size_t firstRow, std::size_t count, float* out) const {
    const std::size_t keys = std::size_t(keys_);
    if (isGenerated()) {
        thread_local std::vector<double> normals;
        normals.resize(count * keys);
        philoxNormals(spec_.seed, RandomStream::Logits, std::uint64_t(firstRow) * keys,
                      count * keys, normals.data());
        for (std::size_t i = 0; i < count * keys; ++i)
            out[i] = float(spec_.logitStd * normals[i]);
        return;
    }
    if (transformer_) {
        transformer_->fillRows(firstRow, count, out);
        return;
    }
    const std::size_t rowsPerLayer = std::size_t(headsPerLayer_) * std::size_t(queries_);
    while (count > 0) { // a block of rows may span selected layers
        const std::size_t layer = firstRow / rowsPerLayer, inLayer = firstRow % rowsPerLayer;
        const std::size_t n = std::min(count, rowsPerLayer - inLayer);
        readSourceRows(layerMap_[layer], inLayer, n, out);
        firstRow += n;
        count -= n;
        out += n * keys;
    }
}

std::vector<float> Workload::rowValues(int unit, int query) const {
    std::vector<float> values(static_cast<std::size_t>(keys_));
    fillRows(std::size_t(unit) * queries_ + query, 1, values.data());
    return values;
}

void Workload::attentionRow(int unit, int query, std::span<double> out) const {
    const auto values = rowValues(unit, query);
    if (!holdsLogits()) {
        std::copy(values.begin(), values.end(), out.begin());
        return;
    }
    const double maxLogit = *std::max_element(values.begin(), values.end());
    double sum = 0;
    for (std::size_t k = 0; k < values.size(); ++k)
        sum += out[k] = std::exp(double(values[k]) - maxLogit); // 0 where masked (-inf)
    for (double& a : out)
        a /= sum;
}

std::vector<int> chooseLayers(std::optional<int> choice, int sourceLayers) {
    std::vector<int> layers;
    if (!choice) {
        for (int l = 0; l < sourceLayers; ++l)
            layers.push_back(l);
        return layers;
    }
    const int layer = *choice < 0 ? sourceLayers + *choice : *choice;
    if (layer < 0 || layer >= sourceLayers)
        throw settingError("layer", "layer " + std::to_string(*choice) + " is out of range " +
                                        std::to_string(-sourceLayers) + ".." +
                                        std::to_string(sourceLayers - 1) + " (" +
                                        std::to_string(sourceLayers) +
                                        (sourceLayers == 1 ? " layer)" : " layers)"));
    return {layer};
}

} // namespace attnsteer
