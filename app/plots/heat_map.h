#pragma once
// What the heat maps (matrix, saliency grid) draw, without Qt: a matrix pooled down to the
// pixels that show it, keeping its peaks, and colour ranges that do not stretch rounding noise
// over the whole scale.

#include <span>
#include <utility>
#include <vector>

namespace attnsteer {

/// How the cells that share one pixel become its value.
enum class Pooling {
    Max,              ///< the largest (a peak of one key stays visible in a narrow column)
    LargestMagnitude, ///< the value of largest |v|, sign kept (a change either way stays visible)
};

/// A window of a matrix pooled onto at most OUT_ROWS x OUT_COLS cells.
struct PooledMatrix {
    int rows = 0, cols = 0;     ///< cells of VALUES, row-major
    std::vector<double> values; ///< rows x cols
    /// Source rows (and columns) covered by pooled row i: [rowStart[i], rowStart[i + 1]); size
    /// rows + 1 (cols + 1). Each source row of the window is in exactly one pooled row.
    std::vector<int> rowStart, colStart;
};

/// How many pooled cells CELLS source cells become when they span SPAN units over PIXELS device
/// pixels: CELLS while a cell has a pixel or more (or PIXELS is 0: a vector figure keeps every
/// cell), else one pooled cell per pixel, rounded up.
int pooledCount(int cells, double span, double pixels);

/// Pools a matrix row by row as the rows come (the engine folds each row of A' in while it is in
/// the cache): the same cells as poolMatrix over the whole matrix.
class RowPooler {
  public:
    /// A ROWS x COLS matrix onto at most OUT_ROWS x OUT_COLS cells, by MODE.
    RowPooler(int rows, int cols, int outRows, int outCols, Pooling mode);
    /// Folds source row ROW (COLS values) in. Rows of different pooled rows may be added from
    /// different threads at once (firstRowOfGroupAt tells where the pooled rows start).
    void add(int row, const double* values);
    /// The first source row of the pooled row that holds ROW.
    int firstRowOfGroupAt(int row) const;
    /// The pooled matrix (once every row was added).
    PooledMatrix take() { return std::move(pooled_); }

  private:
    PooledMatrix pooled_;
    std::vector<int> rowGroup_; ///< the pooled row of each source row
    Pooling mode_;
};

/// Pools rows [ROW_BEGIN, ROW_END) and columns [COL_BEGIN, COL_END) of the ROWS x COLS row-major
/// matrix VALUES onto at most OUT_ROWS x OUT_COLS cells: along a side with more source cells
/// than OUT cells, consecutive source cells are grouped (as evenly as whole cells allow) and
/// each group becomes one cell by MODE; a side with no more keeps its cells. NaN cells are
/// skipped (a group of only NaN stays NaN). The window is clipped to the matrix; an empty one
/// gives an empty result.
PooledMatrix poolMatrix(std::span<const double> values, int rows, int cols, int rowBegin,
                        int rowEnd, int colBegin, int colEnd, int outRows, int outCols,
                        Pooling mode);

/// The colour range of a sequential scale for values from LOW to HIGH (finite, LOW <= HIGH):
/// [LOW, HIGH] itself, unless it is too narrow to mean anything (a span of at most 1e-9 of the
/// values' magnitude: a constant map, or rounding noise like 1 ± 2e-16). Then the range runs
/// from 0 to just beyond the value (1 + 1e-6 times it; mirrored when it is negative; [0, 1] for
/// zeros), so that constant data look constant, in the colour of their value. Non-finite inputs
/// give [0, 1].
std::pair<double, double> sequentialColorRange(double low, double high);

/// The half-width of a diverging scale (-E .. E) for values from LOW to HIGH: max(|LOW|,
/// |HIGH|), at least MIN_EXTENT (so that differences at rounding level stay white); MIN_EXTENT
/// when there are none.
double divergingColorExtent(double low, double high, double minExtent = 1e-12);

/// The range of a logarithmic colour scale for positive values up to HIGH: [HIGH x 1e-4, HIGH]
/// (four decades; smaller values, and zeros, take the lowest colour), or [LOWEST, HIGH] when the
/// smallest positive value LOWEST is within them; [1e-4, 1] without positive values.
std::pair<double, double> logColorRange(double lowestPositive, double high);

} // namespace attnsteer
