#pragma once
// Where the target tokens are, drawn over two views: their outline on the image grid and their
// marks under the per-token curves. The geometry is plain functions (tested without a widget);
// the two item sets put it on a QCustomPlot, whose classes stay in the .cpp.

#include <QColor>
#include <QFont>
#include <QLineF>
#include <QPair>
#include <QString>

#include <span>
#include <vector>

class QCustomPlot;
class QCPItemLine;
class QCPItemRect;
class QCPItemText;

namespace attnsteer {

namespace plotcolors {
/// The target's outline and marks: amber, apart from A's blue, A''s orange-red and s's green.
inline QColor target() {
    return QColor(0xe6, 0x9f, 0x00);
}
} // namespace plotcolors

/// The boundary of the target cells of the grid's first frame (keys OFFSET .. OFFSET + GH*GW - 1
/// in raster order, cell (r, c) = key OFFSET + r*GW + c): the edges between a target cell and a
/// cell that is not one (or the grid's border), in grid coordinates (x = column, y = row, a cell
/// spans [c, c + 1] x [r, r + 1]), collinear neighbours joined. TARGET has one flag per key
/// (nonzero = target); keys beyond it are not targets. A rectangle gives its four sides.
std::vector<QLineF> targetOutline(std::span<const unsigned char> target, int offset, int gridHeight,
                                  int gridWidth);

/// The runs of consecutive positions x whose token ORDER[x] is a target, as [first x, last x],
/// ascending. ORDER is the views' order (x -> key; the identity unless sorted).
std::vector<QPair<int, int>> targetRuns(std::span<const unsigned char> target,
                                        std::span<const int> order);

/// The outline of targetOutline() on a grid plot, above the cells.
class TargetOutlineItems {
  public:
    explicit TargetOutlineItems(QCustomPlot* plot);
    /// Draws SEGMENTS (grid coordinates); none hides it.
    void show(const std::vector<QLineF>& segments);
    /// The segments drawn now.
    const std::vector<QLineF>& segments() const { return segments_; }

  private:
    QCustomPlot* plot_;
    std::vector<QCPItemLine*> lines_;
    std::vector<QLineF> segments_;
};

/// The target tokens of a per-token plot: a light amber band behind the curves per run of
/// targetRuns() and the label "target" above the first.
class TargetTokenItems {
  public:
    /// FONT: the label's (the view's tick font).
    TargetTokenItems(QCustomPlot* plot, const QFont& font);
    /// Marks RUNS (x ranges, inclusive); none hides the marks. LABEL names them.
    void show(const std::vector<QPair<int, int>>& runs, const QString& label);
    const std::vector<QPair<int, int>>& runs() const { return runs_; }

  private:
    QCustomPlot* plot_;
    std::vector<QCPItemRect*> bands_;
    QCPItemText* label_ = nullptr;
    std::vector<QPair<int, int>> runs_;
};

} // namespace attnsteer
