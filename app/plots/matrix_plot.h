#pragma once
// A' (or A' - A) of one head as a heat map: keys on x, queries on y. Clicking a row picks that
// query.

#include "plot_data.h"
#include "plot_view.h"

#include <QPoint>

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
    /// The query row under widget position PIXEL of customPlot(), or -1.
    int queryAt(QPoint pixel) const;
    /// The centre of cell (QUERY, KEY) in customPlot() pixels.
    QPoint cellCenter(int query, int key) const;

    void resetView() override;

  signals:
    /// The user clicked (pressed and released without dragging) on query row QUERY.
    void queryPicked(int query);

  private:
    /// setMatrix with WHO naming the head in the title ("Head 3", "Layer 1, head 3").
    void showMatrix(std::vector<double> values, int queries, int keys, bool difference, int head,
                    double lambda, const QString& who);
    void onMouseMove(QMouseEvent* event);

    std::vector<double> values_;
    int queries_ = 0, keys_ = 0, head_ = 0;
    double lambda_ = 0;
    bool difference_ = false;
    int currentQuery_ = -1;
    QCPColorMap* map_ = nullptr;
    QCPColorScale* scale_ = nullptr;
    QCPItemStraightLine* queryLine_ = nullptr;
};

} // namespace attnsteer
