#pragma once
// A' (or A' - A) of one head as a heat map: keys on x, queries on y. Drawn smaller than the
// matrix, each pixel shows the largest value of the cells it covers (the largest change, either
// way, for A' - A): a peak on one key never drops out. Linear or logarithmic colour. Clicking a
// row picks that query.

#include "heat_map.h"
#include "plot_data.h"
#include "plot_view.h"

#include <QPoint>

#include <memory>

#include <vector>

class QCPColorMap;
class QCPColorScale;
class QCPItemStraightLine;
class QMouseEvent;

namespace attnsteer {

class MatrixPlot : public PlotView {
    Q_OBJECT
  public:
    explicit MatrixPlot(QWidget* parent = nullptr);
    QString viewName() const override { return QStringLiteral("matrix"); }

    /// VALUES is row-major QUERIES x KEYS of head HEAD: A' at LAMBDA, or A' - A when
    /// DIFFERENCE (shown with a colour scale symmetric around 0). Empty VALUES clears the view.
    void setMatrix(std::vector<double> values, int queries, int keys, bool difference, int head,
                   double lambda);
    /// The matrix of DATA (moved out of it: a matrix is megabytes, and a dragged lambda sends one
    /// per step).
    void setData(PlotData data);
    /// Marks query row QUERY with a line; -1 clears.
    void setCurrentQuery(int query);
    int currentQuery() const { return currentQuery_; }

    int queries() const { return queries_; }
    int keys() const { return keys_; }
    bool isDifference() const { return difference_; }
    /// The value at (QUERY, KEY), NaN outside.
    double value(int query, int key) const;
    /// A logarithmic colour scale (four decades below the largest A'; zeros take the lowest
    /// colour). Not for A' - A, which keeps its linear scale symmetric around 0.
    void setLogScale(bool logarithmic);
    bool logScale() const { return logScale_; }
    /// The cells drawn now (columns x rows): the matrix pooled to the pixels of the view (after a
    /// replot).
    QSize shownCells() const;
    /// The size (columns x rows) to pool the whole matrix to for the view's size now (a little
    /// below its pixels); a PlotData::pooledMatrix of about that size, not above the pixels, is
    /// drawn as it is.
    QSize wantedPooling() const { return wantedPooling_; }
    /// The value drawn for source cell (QUERY, KEY): its pooled cell's (NaN when not in view).
    double shownValue(int query, int key) const;
    /// The query row under widget position PIXEL of customPlot(), or -1.
    int queryAt(QPoint pixel) const;
    /// The centre of cell (QUERY, KEY) in customPlot() pixels.
    QPoint cellCenter(int query, int key) const;

    void resetView() override;

  signals:
    /// The user clicked (pressed and released without dragging) on query row QUERY.
    void queryPicked(int query);
    /// The whole matrix is pooled to SIZE (columns x rows) now (the view was resized).
    void wantedPoolingChanged(QSize size);

  protected:
    void styleChanged(const PlotStyle& style) override;
    void pointerLeft() override;

  private:
    /// The colour range and scale type for the values and the log setting.
    void updateColorScale();
    /// Pools the cells in view to the axis rect's pixels, and fits the colour scale to them
    /// (before a replot).
    void updateShownCells();
    bool logScaleShown() const;
    /// After a lambda step: the cells pooled and coloured again, and, where the colour scale can
    /// stay (the new range fits it), only their layer and the title drawn. False when the whole
    /// plot must be drawn.
    bool redrawCellsOnly();
    /// setMatrix with WHO naming the head in the title ("Head 3", "Layer 1, head 3").
    void showMatrix(std::shared_ptr<const std::vector<double>> values, int queries, int keys,
                    bool difference, int head, double lambda, const QString& who);
    void onMouseMove(QMouseEvent* event);

    std::shared_ptr<const std::vector<double>> values_ =
        std::make_shared<const std::vector<double>>();
    int queries_ = 0, keys_ = 0, head_ = 0;
    double lambda_ = 0;
    bool difference_ = false;
    bool logScale_ = false, scaleIsLog_ = false;
    /// While set (redrawCellsOnly), updateColorScale keeps the colour range when the new one
    /// fits it and fills most of it.
    bool holdColorRange_ = false;
    bool headSteered_ = true;
    double low_ = 0, high_ = 0, lowestPositive_ = 0; ///< of the finite values drawn
    unsigned long long version_ = 0;                 ///< grows with every new matrix
    /// What the pooled cells were made for.
    struct ShownKey {
        unsigned long long version = 0;
        int rowBegin = 0, rowEnd = 0, colBegin = 0, colEnd = 0, outRows = 0, outCols = 0;
        bool logarithmic = false;
        bool operator==(const ShownKey&) const = default;
    };
    ShownKey shownKey_;
    PooledMatrix shown_;
    std::shared_ptr<const PooledMatrix> prepooled_; ///< the engine's, for the whole matrix
    QSize wantedPooling_;
    int currentQuery_ = -1;
    QCPColorMap* map_ = nullptr;
    QCPColorScale* scale_ = nullptr;
    QCPItemStraightLine* queryLine_ = nullptr;
};

} // namespace attnsteer
