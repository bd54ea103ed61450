#pragma once
// What the plot views draw, as plain data: no QCustomPlot, no widgets. The window fills it from
// its controller; `attnsteer-cli plot` fills it from a Scenario; exportAllPlots draws it.

#include "attnsteer/sweep.h"

#include <QColor>
#include <QImage>
#include <QSize>
#include <QString>

#include <vector>

namespace attnsteer {

/// Everything the four views show. Every member has a usable default; empty vectors draw empty
/// plots (with their axes and titles), never crash.
struct PlotData {
    // --- the per-token view: one attention row before and after steering ---
    int head = 0;                  ///< head of the row shown
    int query = 0;                 ///< query of the row shown
    std::vector<double> attention; ///< A[head, query, :], K values
    std::vector<double> steered;   ///< A'[head, query, :], K values
    std::vector<double> saliency;  ///< s, K values: the normalized bias as applied
    QString saliencyLabel;         ///< where s came from: "random, seed 0", a file name
    double lambda = 0.25;          ///< the steering strength of `steered`
    bool sortBySaliency = false;   ///< x = rank of s (0 = most salient) instead of the key index
    int highlightedToken = -1;     ///< key token marked in the per-token and grid views, or -1

    // --- the tradeoff view: entropy reduction against KL over a lambda grid ---
    std::vector<SweepRow> sweep; ///< one row per lambda, ascending lambda; mean and sd over seeds
    int sweepSeeds = 1;          ///< how many seeds the means are over (for the title)

    // --- the saliency grid view ---
    int gridHeight = 0;           ///< tokens per column; 0 = gridShapeFor(K)
    int gridWidth = 0;            ///< tokens per row; 0 = gridShapeFor(K)
    int gridOffset = 0;           ///< key index of grid token (0, 0) (the first vision token)
    QImage image;                 ///< the loaded saliency image drawn under the grid, or null
    int resizedHeight = 0;        ///< smart_resize height of the image (caption), 0 if none
    int resizedWidth = 0;         ///< smart_resize width of the image (caption), 0 if none
    double overlayOpacity = 0.55; ///< 0..1, opacity of the heat overlay over the image

    // --- the matrix view: one head, queries x keys ---
    int matrixQueries = 0;           ///< rows of `matrix`
    int matrixKeys = 0;              ///< columns of `matrix`
    std::vector<double> matrix;      ///< row-major, A' (or A' - A) of `head`; may be empty
    bool matrixIsDifference = false; ///< true when `matrix` holds A' - A
};

/// The token grid of K keys when no image defines one: GH x GW with GH * GW = K and GH the largest
/// divisor of K not above sqrt(K) (32 x 32 for 1024, 1 x 7 for 7). K < 1 gives 0 x 0.
QSize gridShapeFor(int keys);

/// "grid GH x GW = N tokens, resized RH x RW" for an image, "grid GH x GW = N tokens
/// (saliency: LABEL)" otherwise.
QString gridCaption(const PlotData& data);

/// The colours every view uses for the same quantity.
namespace plotcolors {
inline QColor attention() {
    return QColor(0x4c, 0x6a, 0x92);
} ///< A: grey-blue
inline QColor steered() {
    return QColor(0xe0, 0x4a, 0x1f);
} ///< A': orange-red
inline QColor saliency() {
    return QColor(0x2a, 0x9d, 0x4a);
} ///< s: green
inline QColor marker() {
    return QColor(0x20, 0x20, 0x20);
} ///< highlights, current lambda
} // namespace plotcolors

} // namespace attnsteer
