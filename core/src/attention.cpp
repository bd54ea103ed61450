#include "attnsteer/attention.h"

#include "attnsteer/errors.h"

#include <Eigen/Core>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace attnsteer::attention {
namespace {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstRowMap = Eigen::Map<const RowMatrix>;
using RowMap = Eigen::Map<RowMatrix>;

constexpr float kMinusInf = -std::numeric_limits<float>::infinity();

void checkSize(const char* what, std::size_t actual, std::size_t expected) {
    if (actual != expected)
        throw std::invalid_argument(std::string("attention: ") + what + " holds " +
                                    std::to_string(actual) + " values, expected " +
                                    std::to_string(expected));
}

/// COUNT rows of DIM values from row FIRST of DATA as float32: DATA itself for float, widened
/// into BUFFER for bfloat16.
const float* tileRows(const float* data, std::size_t first, int count, int dim,
                      std::vector<float>&) {
    (void)count;
    return data + first * std::size_t(dim);
}
const float* tileRows(const std::uint16_t* data, std::size_t first, int count, int dim,
                      std::vector<float>& buffer) {
    const std::size_t n = std::size_t(count) * std::size_t(dim);
    buffer.resize(n);
    const std::uint16_t* from = data + first * std::size_t(dim);
    for (std::size_t i = 0; i < n; ++i)
        buffer[i] = fromBFloat16(from[i]);
    return buffer.data();
}

/// The K or V of one head as float32: DATA itself for float; for bfloat16 widened into BUFFER
/// once per head and thread (HEAD_IN_BUFFER says which head BUFFER holds), not once per query
/// tile, which would cost as much as a third of the products.
const float* headRows(const float* data, int, std::size_t count, std::vector<float>&, int&) {
    (void)count;
    return data;
}
const float* headRows(const std::uint16_t* data, int head, std::size_t count,
                      std::vector<float>& buffer, int& headInBuffer) {
    if (headInBuffer != head) {
        buffer.resize(count);
        for (std::size_t i = 0; i < count; ++i)
            buffer[i] = fromBFloat16(data[i]);
        headInBuffer = head;
    }
    return buffer.data();
}

template <typename T>
void forwardTiles(const AttentionParams& p, const T* q, const T* k, const T* v,
                  std::span<const float> bias, float* out) {
    const int heads = p.heads, queries = p.queries, keys = p.keys, dim = p.headDim;
    const int tileQ = std::min(p.queryTile, queries), tileK = std::min(p.keyTile, keys);
    const float scale = p.scale != 0 ? p.scale : 1.0f / std::sqrt(float(dim));
    const bool biased = !bias.empty();
    std::vector<float> scaledBias;
    if (biased) {
        scaledBias.resize(std::size_t(keys));
        for (int key = 0; key < keys; ++key)
            scaledBias[std::size_t(key)] = p.lambda * bias[std::size_t(key)];
    }
    const int queryTiles = (queries + tileQ - 1) / tileQ;
    const int offset = keys - queries; // causal: query i sees the keys <= i + offset
    const int threads = p.threads > 0 ? p.threads : omp_get_max_threads();

#pragma omp parallel num_threads(threads)
    {
        RowMatrix scores(tileQ, tileK), acc(tileQ, dim), scaledQ(tileQ, dim);
        Eigen::ArrayXf runningMax(tileQ), runningSum(tileQ);
        std::vector<float> qBuffer, kBuffer, vBuffer;
        int kHeadInBuffer = -1, vHeadInBuffer = -1;
#pragma omp for collapse(2) schedule(dynamic)
        for (int h = 0; h < heads; ++h) {
            for (int t = 0; t < queryTiles; ++t) {
                const int q0 = t * tileQ, rows = std::min(tileQ, queries - q0);
                const T* qHead = q + std::size_t(h) * std::size_t(queries) * std::size_t(dim);
                const std::size_t headValues = std::size_t(keys) * std::size_t(dim);
                const float* kHead = headRows(k + std::size_t(h) * headValues, h, headValues,
                                              kBuffer, kHeadInBuffer);
                const float* vHead = headRows(v + std::size_t(h) * headValues, h, headValues,
                                              vBuffer, vHeadInBuffer);
                // The scale goes on Q (d multiplies per query instead of K).
                auto qs = scaledQ.topRows(rows);
                qs = ConstRowMap(tileRows(qHead, std::size_t(q0), rows, dim, qBuffer), rows, dim) *
                     scale;
                auto m = runningMax.head(rows);
                auto l = runningSum.head(rows);
                auto o = acc.topRows(rows);
                m.setConstant(kMinusInf);
                l.setZero();
                o.setZero();
                // Causal: no key beyond the last query's last visible one.
                const int endKey = p.causal ? std::min(keys, q0 + rows + offset) : keys;
                for (int k0 = 0; k0 < endKey; k0 += tileK) {
                    const int cols = std::min(tileK, endKey - k0);
                    auto s = scores.topLeftCorner(rows, cols);
                    s.noalias() =
                        qs * ConstRowMap(kHead + std::size_t(k0) * std::size_t(dim), cols, dim)
                                 .transpose();
                    // The online softmax, row by row while the row (keyTile floats) is in L1:
                    // the bias (one add per score), the row's maximum, the exponentials and
                    // their sum; the keys a causal query does not see are zeroed.
                    for (int i = 0; i < rows; ++i) {
                        const int visible =
                            p.causal ? std::clamp(q0 + i + offset + 1 - k0, 0, cols) : cols;
                        auto row = s.row(i).head(visible);
                        if (biased)
                            row += Eigen::Map<const Eigen::RowVectorXf>(scaledBias.data() + k0,
                                                                        visible);
                        float alpha = 1;
                        if (visible > 0) {
                            const float newMax = std::max(m(i), row.maxCoeff());
                            alpha = std::exp(m(i) - newMax); // 0 on the first tile (m = -inf)
                            m(i) = newMax;
                            row = (row.array() - newMax).exp().matrix();
                            l(i) = alpha * l(i) + row.sum();
                        }
                        if (visible < cols)
                            s.row(i).tail(cols - visible).setZero();
                        if (alpha != 1)
                            o.row(i) *= alpha;
                    }
                    o.noalias() +=
                        s * ConstRowMap(vHead + std::size_t(k0) * std::size_t(dim), cols, dim);
                }
                RowMap(out + (std::size_t(h) * std::size_t(queries) + std::size_t(q0)) *
                                 std::size_t(dim),
                       rows, dim) = (o.array().colwise() / l).matrix();
            }
        }
    }
}

template <typename T>
void forwardChecked(const AttentionParams& params, std::span<const T> q, std::span<const T> k,
                    std::span<const T> v, std::span<const float> bias, std::span<float> out) {
    checkSizes(params);
    const std::size_t dim = std::size_t(params.headDim);
    const std::size_t queryValues = std::size_t(params.heads) * std::size_t(params.queries) * dim;
    const std::size_t keyValues = std::size_t(params.heads) * std::size_t(params.keys) * dim;
    checkSize("Q", q.size(), queryValues);
    checkSize("K", k.size(), keyValues);
    checkSize("V", v.size(), keyValues);
    checkSize("O", out.size(), queryValues);
    if (!bias.empty())
        checkSize("the bias", bias.size(), std::size_t(params.keys));
    forwardTiles(params, q.data(), k.data(), v.data(), bias, out.data());
}

} // namespace

void checkSizes(const AttentionParams& p) {
    if (p.heads < 1)
        throw settingError("heads", "must be at least 1");
    if (p.queries < 1)
        throw settingError("queries", "must be at least 1");
    if (p.keys < 1)
        throw settingError("keys", "must be at least 1");
    if (p.headDim < 1)
        throw settingError("head-dim", "must be at least 1");
    if (p.causal && p.queries > p.keys)
        throw settingError("queries", "must not exceed the keys (" + std::to_string(p.keys) +
                                          ") with the causal mask");
    if (p.queryTile < 1 || p.keyTile < 1)
        throw std::invalid_argument("attention: tiles need at least one query and one key");
}

void forward(const AttentionParams& params, std::span<const float> q, std::span<const float> k,
             std::span<const float> v, std::span<const float> bias, std::span<float> out) {
    forwardChecked(params, q, k, v, bias, out);
}

void forward(const AttentionParams& params, std::span<const std::uint16_t> q,
             std::span<const std::uint16_t> k, std::span<const std::uint16_t> v,
             std::span<const float> bias, std::span<float> out) {
    forwardChecked(params, q, k, v, bias, out);
}

std::uint16_t toBFloat16(float x) {
    std::uint32_t bits;
    std::memcpy(&bits, &x, sizeof bits);
    if ((bits & 0x7fffffffu) > 0x7f800000u) // NaN: keep the sign, set the quiet bit
        return std::uint16_t((bits >> 16) | 0x0040u);
    // Round to nearest, ties to even: add 0x7fff plus the lowest kept bit, then truncate. A
    // carry into the exponent is the correct rounding (up to Inf beyond the largest bfloat16).
    bits += 0x7fffu + ((bits >> 16) & 1u);
    return std::uint16_t(bits >> 16);
}

float fromBFloat16(std::uint16_t b) {
    const std::uint32_t bits = std::uint32_t(b) << 16;
    float x;
    std::memcpy(&x, &bits, sizeof x);
    return x;
}

struct GemmTimer::Matrices {
    Eigen::MatrixXf a, b, c;
};

GemmTimer::GemmTimer(int rows, int cols, int inner, int threads)
    : matrices_(std::make_unique<Matrices>()), threads_(threads) {
    if (rows < 1 || cols < 1 || inner < 1)
        throw std::invalid_argument("GemmTimer: sizes must be at least 1");
    std::mt19937 generator(0);
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    matrices_->a.resize(rows, inner);
    matrices_->b.resize(inner, cols);
    matrices_->c.resize(rows, cols);
    for (float& x : matrices_->a.reshaped())
        x = uniform(generator);
    for (float& x : matrices_->b.reshaped())
        x = uniform(generator);
}

GemmTimer::~GemmTimer() = default;

double GemmTimer::flops() const {
    return 2.0 * double(matrices_->a.rows()) * double(matrices_->b.cols()) *
           double(matrices_->a.cols());
}

double GemmTimer::runMs() {
    Matrices& m = *matrices_;
    const int threads = threads_ > 0 ? threads_ : omp_get_max_threads();
    const auto start = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(threads)
    {
        // Eigen runs single-threaded here (EIGEN_DONT_PARALLELIZE): each thread takes a band of
        // columns of C, as the attention's threads take their own tiles.
        const Eigen::Index cols = m.c.cols(), count = omp_get_num_threads();
        const Eigen::Index id = omp_get_thread_num();
        const Eigen::Index first = cols * id / count, last = cols * (id + 1) / count;
        if (last > first)
            m.c.middleCols(first, last - first).noalias() =
                m.a * m.b.middleCols(first, last - first);
    }
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
        .count();
}

} // namespace attnsteer::attention
