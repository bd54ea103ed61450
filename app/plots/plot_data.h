#pragma once
// What the plot views draw, as plain data: no QCustomPlot, no widgets. The window fills it from
// its controller; `attnsteer-cli plot` fills it from a Scenario; exportAllPlots draws it.

#include "attnsteer/profile.h"
#include "heat_map.h"

#include "attnsteer/sweep.h"

#include <QColor>
#include <QImage>
#include <QSize>
#include <QString>

#include <memory>
#include <vector>

namespace attnsteer {

/// What the image view colours its vision tokens by: the saliency s, or the attention A, the
/// steered A' or the change A' - A of the row shown (or of the mean over its head's queries).
enum class ImageMode { Saliency, Attention, Steered, Difference };

/// What the tradeoff view's y axis shows against KL (SweepRow's means and sds).
enum class TradeoffY {
    EntropyReduction, ///< entropy reduction, %
    ExpectationGain,  ///< saliency-expectation gain, sum A' s - sum A s
    TargetMassGain,   ///< target-mass gain (with a target)
    PointingGain,     ///< pointing gain (with a target)
    Pointing,         ///< pointing of A' at each lambda: the accuracy (with a target)
};
/// What the per-token view shows: A and A' over the key tokens, or how steering rescales each
/// key's attention, A'/A, with the keys in the order of their saliency (the story at a glance:
/// a rising curve at any lambda).
enum class PerTokenMode { Values, RatioBySaliency };

/// Everything the four views show. Every member has a usable default; empty vectors draw empty
/// plots (with their axes and titles), never crash.
struct PlotData {
    // --- the per-token view: one attention row before and after steering ---
    int head = 0;            ///< head (within its layer) of the row shown
    int query = 0;           ///< query of the row shown
    int layer = -1;          ///< the source's layer of the row and the matrix when one of
                             ///< several layers is shown; -1 otherwise
    int layersAveraged = 1;  ///< > 1: the row and the matrix are means over these layers
    bool headSteered = true; ///< false: `head` gets no bias (A' = A), labelled "not steered"
    /// The random workload's seed of the row, the matrix and the metrics, or -1 (a file).
    long long seed = -1;
    std::vector<double> attention; ///< A[head, query, :], K values
    std::vector<double> steered;   ///< A'[head, query, :], K values
    std::vector<double> saliency;  ///< s, K values: the normalized bias as applied
    QString saliencyLabel;         ///< where s came from: "random, seed 0", a file name
    double lambda = 0.25;          ///< the steering strength of `steered`
    bool sortBySaliency = false;   ///< x = rank of s (0 = most salient) instead of the key index
    PerTokenMode perTokenMode = PerTokenMode::Values;
    int highlightedToken = -1; ///< key token marked in the per-token and grid views, or -1
    /// The key tokens' texts (a dump's sidecar), K of them, or empty: hover text and x-axis
    /// labels of the per-token view.
    std::vector<QString> tokens;
    /// The vision tokens as the model laid them out (a dump's sidecar, or the model's grid):
    /// VISION_TOKENS keys from VISION_START, frames of gridHeight x gridWidth in raster order;
    /// VISION_START -1 when not known.
    int visionStart = -1;
    int visionTokens = 0;
    /// The target tokens (a target mask or file, the transformer's planted object), one flag per
    /// key (1 = target), or empty: marked in the per-token view, outlined on the image grid.
    std::vector<unsigned char> target;

    // --- the tradeoff view: entropy reduction against KL over a lambda grid ---
    std::vector<SweepRow> sweep; ///< one row per lambda, ascending lambda; mean and sd over seeds
    int sweepSeeds = 1;          ///< how many seeds the means are over (for the title)
    TradeoffY tradeoffY = TradeoffY::EntropyReduction; ///< the y axis
    QString sweepLabel; ///< the curve's legend ("all heads"); empty: "mean over seeds"
    /// A second curve over the same lambdas (the top-k heads steered), or empty.
    std::vector<SweepRow> sweepCompare;
    QString sweepCompareLabel;             ///< its legend
    unsigned long long sweepFirstSeed = 0; ///< the first of them (seeds first .. first + n - 1)

    // --- the saliency grid view ---
    int gridHeight = 0;           ///< tokens per column; 0 = gridShapeFor(K)
    int gridWidth = 0;            ///< tokens per row; 0 = gridShapeFor(K)
    int gridOffset = 0;           ///< key index of grid token (0, 0) (the first vision token)
    QImage image;                 ///< the loaded saliency image drawn under the grid, or null
    int resizedHeight = 0;        ///< smart_resize height of the image (caption), 0 if none
    int resizedWidth = 0;         ///< smart_resize width of the image (caption), 0 if none
    double overlayOpacity = 0.55; ///< 0..1, opacity of the heat overlay over the image
    bool modelGrid = false;       ///< the grid is the model's (sidecar), not the image's own
    ImageMode imageMode = ImageMode::Saliency; ///< what the grid's cells show
    bool imageQueryMean = false; ///< A, A' and A' - A of the mean over the head's queries
    /// Mean over the first queryMeanRows query rows of the head (the matrix's) of A and of A',
    /// K values each, or empty.
    std::vector<double> queryMeanAttention, queryMeanSteered;
    int queryMeanRows = 0;

    // --- the matrix view: one head, queries x keys ---
    int matrixQueries = 0;      ///< rows of `matrix`
    int matrixKeys = 0;         ///< columns of `matrix`
    std::vector<double> matrix; ///< row-major, A' (or A' - A) of `head`; may be empty
    /// The same, shared instead of copied (the window's views; megabytes a lambda); when set it
    /// is drawn and `matrix` is not.
    std::shared_ptr<const std::vector<double>> sharedMatrix;
    /// The whole matrix of A' already pooled to the view's pixels (the window's engine does it
    /// off the GUI thread, MatrixPlot::wantedPooling), or null: the view pools it itself.
    std::shared_ptr<const PooledMatrix> pooledMatrix;
    bool matrixIsDifference = false; ///< true when `matrix` holds A' - A

    // --- the heads view: a profile of every layer and head ---
    std::shared_ptr<const Profile> profile; ///< null: no heads view (not exported)
    int profileLayers = 0;                  ///< the source's layers
    int profileHeadsPerLayer = 0;
    QString headsColumn = QStringLiteral("grounding_score"); ///< the column shown (a name)
    int headsTopK = 0;           ///< the k best heads by that column are marked
    int selectedLayer = -1;      ///< the layer chosen, -1: all layers
    int selectedHead = -1;       ///< the head chosen, -1: none
    bool matrixLogScale = false; ///< a logarithmic colour scale for A' (not for A' - A)
};

/// The token grid of K keys when no image defines one: GH x GW with GH * GW = K and GH the largest
/// divisor of K not above sqrt(K) (32 x 32 for 1024, 1 x 7 for 7). K < 1 gives 0 x 0.
QSize gridShapeFor(int keys);

/// "grid GH x GW = N tokens, resized RH x RW" for an image, "grid GH x GW = N tokens
/// (saliency: LABEL)" otherwise; "model's grid GH x GW = N vision tokens from key V" (and
/// ", frame 1 of F") for the model's grid.
QString gridCaption(const PlotData& data);

/// The head the row views show: "head 3", "layer 1, head 3" (one layer of several), "head 3,
/// mean of 4 layers".
QString headLabel(const PlotData& data);

/// Key TOKEN as the per-token and image views name it: "key 17 · 'ball'" for a text token,
/// "key 40 · image (row 3, col 2)" for a vision token (", frame F" when there are several), or
/// "key 17" when DATA has no token texts and no vision span.
QString keyLabel(const PlotData& data, int token);
/// The same from the parts of PlotData that it reads.
QString keyLabel(int token, const std::vector<QString>& tokens, int visionStart, int visionTokens,
                 int gridHeight, int gridWidth);

/// The colours every view uses for the same quantity: the Okabe-Ito palette, which stays apart
/// for the common colour-vision deficiencies (blue, vermillion and bluish green keep distinct
/// for a deuteranope, where green and orange-red become the same olive).
namespace plotcolors {
inline QColor attention() {
    return QColor(0x00, 0x72, 0xb2);
} ///< A: blue
inline QColor steered() {
    return QColor(0xd5, 0x5e, 0x00);
} ///< A': vermillion
inline QColor saliency() {
    return QColor(0x00, 0x9e, 0x73);
} ///< s: bluish green
inline QColor marker() {
    return QColor(0x20, 0x20, 0x20);
} ///< highlights, current lambda
} // namespace plotcolors

} // namespace attnsteer
