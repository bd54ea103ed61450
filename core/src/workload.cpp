#include "attnsteer/workload.h"

#include "attnsteer/errors.h"
#include "attnsteer/npy.h"
#include "attnsteer/random.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <limits>

namespace attnsteer {
namespace {

std::string shapeText(const std::vector<std::size_t>& shape) {
    std::string text = "(";
    for (std::size_t i = 0; i < shape.size(); ++i)
        text += (i ? ", " : "") + std::to_string(shape[i]);
    return text + (shape.size() == 1 ? ",)" : ")");
}

std::string indexText(std::size_t flat, int queries, int keys) {
    const std::size_t k = flat % keys, row = flat / keys;
    return "(" + std::to_string(row / queries) + ", " + std::to_string(row % queries) + ", " +
           std::to_string(k) + ")";
}

Workload loadFile(const std::string& path, WorkloadSource source) {
    NpyArray array = readNpy(path);
    const auto& shape = array.shape;
    std::size_t heads = 0, queries = 0, keys = 0;
    if (shape.size() == 2) {
        heads = 1, queries = shape[0], keys = shape[1];
    } else if (shape.size() == 3) {
        heads = shape[0], queries = shape[1], keys = shape[2];
    } else if (shape.size() == 4 && shape[0] == 1) {
        heads = shape[1], queries = shape[2], keys = shape[3];
    } else {
        throw fileError(path, "shape " + shapeText(shape) +
                                  " does not fit: expected [Q,K], [H,Q,K] or [1,H,Q,K]");
    }
    if (heads == 0 || queries == 0 || keys == 0)
        throw fileError(path, "shape " + shapeText(shape) + " is empty");
    if (heads * queries > std::size_t(std::numeric_limits<int>::max()) ||
        keys > std::size_t(std::numeric_limits<int>::max()))
        throw fileError(path, "shape " + shapeText(shape) + " is too large");
    return Workload::fromValues(int(heads), int(queries), int(keys), std::move(array.data), source,
                                path);
}

std::uint64_t nextWorkloadId() {
    static std::atomic<std::uint64_t> counter{0};
    return ++counter;
}

} // namespace

Workload Workload::generate(const WorkloadSpec& spec) {
    constexpr long long kIntMax = std::numeric_limits<int>::max();
    if (spec.heads < 1 || spec.queries < 1 || spec.keys < 1)
        throw inputError("workload", "heads, queries and keys must be at least 1");
    if ((long long)spec.heads * spec.queries > kIntMax)
        throw inputError("workload", "heads x queries must be below 2^31");
    if (!(spec.logitStd >= 0) || !std::isfinite(spec.logitStd))
        throw settingError("logit-std", "must be a finite number >= 0");
    Workload workload;
    workload.heads_ = spec.heads;
    workload.queries_ = spec.queries;
    workload.keys_ = spec.keys;
    workload.source_ = WorkloadSource::RandomLogits;
    workload.spec_ = spec;
    workload.id_ = nextWorkloadId();
    workload.label_ = "random, seed " + std::to_string(spec.seed);
    return workload;
}

Workload Workload::loadLogits(const std::string& path) {
    Workload workload = loadFile(path, WorkloadSource::FileLogits);
    const auto bad = std::find_if(workload.values_.begin(), workload.values_.end(),
                                  [](float v) { return !std::isfinite(v); });
    if (bad != workload.values_.end())
        throw fileError(path, "contains NaN or Inf at " +
                                  indexText(std::size_t(bad - workload.values_.begin()),
                                            workload.queries_, workload.keys_));
    return workload;
}

Workload Workload::loadAttention(const std::string& path) {
    Workload workload = loadFile(path, WorkloadSource::FileAttention);
    const std::size_t keys = std::size_t(workload.keys_);
    for (std::size_t row = 0; row < workload.rowCount(); ++row) {
        double sum = 0;
        for (std::size_t k = 0; k < keys; ++k) {
            const float p = workload.values_[row * keys + k];
            if (!std::isfinite(p))
                throw fileError(path, "contains NaN or Inf at " +
                                          indexText(row * keys + k, workload.queries_, int(keys)));
            if (p < 0)
                throw fileError(path, "negative probability at " +
                                          indexText(row * keys + k, workload.queries_, int(keys)));
            sum += p;
        }
        if (std::abs(sum - 1.0) > 1e-3) {
            char text[160];
            std::snprintf(text, sizeof text, "row (%zu, %zu) sums to %.6g, expected 1 within 1e-3",
                          row / workload.queries_, row % workload.queries_, sum);
            throw fileError(path, text);
        }
    }
    return workload;
}

Workload Workload::fromValues(int heads, int queries, int keys, std::vector<float> values,
                              WorkloadSource source, std::string label) {
    if (heads < 1 || queries < 1 || keys < 1 ||
        values.size() != std::size_t(heads) * queries * keys)
        throw fileError(label, "values do not match the shape " + std::to_string(heads) + " x " +
                                   std::to_string(queries) + " x " + std::to_string(keys));
    Workload workload;
    workload.heads_ = heads;
    workload.queries_ = queries;
    workload.keys_ = keys;
    workload.source_ = source;
    workload.label_ = std::move(label);
    workload.values_ = std::move(values);
    workload.spec_ = WorkloadSpec{heads, queries, keys, 0.0, 0};
    workload.id_ = nextWorkloadId();
    return workload;
}

void Workload::fillRows(std::size_t firstRow, std::size_t count, float* out) const {
    const std::size_t keys = std::size_t(keys_);
    if (!isGenerated()) {
        std::copy_n(values_.data() + firstRow * keys, count * keys, out);
        return;
    }
    thread_local std::vector<double> normals;
    normals.resize(count * keys);
    philoxNormals(spec_.seed, RandomStream::Logits, std::uint64_t(firstRow) * keys, count * keys,
                  normals.data());
    for (std::size_t i = 0; i < count * keys; ++i)
        out[i] = float(spec_.logitStd * normals[i]);
}

std::vector<float> Workload::rowValues(int head, int query) const {
    std::vector<float> values(static_cast<std::size_t>(keys_));
    fillRows(std::size_t(head) * queries_ + query, 1, values.data());
    return values;
}

void Workload::attentionRow(int head, int query, std::span<double> out) const {
    const auto values = rowValues(head, query);
    if (!holdsLogits()) {
        std::copy(values.begin(), values.end(), out.begin());
        return;
    }
    const double maxLogit = *std::max_element(values.begin(), values.end());
    double sum = 0;
    for (std::size_t k = 0; k < values.size(); ++k)
        sum += out[k] = std::exp(double(values[k]) - maxLogit);
    for (double& a : out)
        a /= sum;
}

} // namespace attnsteer
