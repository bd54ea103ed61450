#pragma once
// The tradeoff curve: entropy reduction % (y) against KL(A‖A′) (x) over a lambda grid, mean and
// seed-to-seed standard deviation as error bars, and a marker at the current lambda.

#include "plot_data.h"
#include "plot_view.h"

#include <QPointF>

#include <vector>

class QCPErrorBars;
class QCPItemText;
class QCPItemTracer;

namespace attnsteer {

class TradeoffPlot : public PlotView {
    Q_OBJECT
  public:
    explicit TradeoffPlot(QWidget* parent = nullptr);
    QString viewName() const override { return QStringLiteral("tradeoff"); }

    /// ROWS in ascending lambda; SEEDS is how many seeds the means and sds are over.
    void setSweep(std::vector<SweepRow> rows, int seeds);
    /// Moves the marker to LAMBDA, interpolated linearly between the grid points (clamped to
    /// the grid's ends).
    void setLambda(double lambda);
    void setData(const PlotData& data);

    const std::vector<SweepRow>& sweep() const { return rows_; }
    /// (KL, reduction %) of LAMBDA on the curve; (NaN, NaN) without a sweep.
    static QPointF interpolate(const std::vector<SweepRow>& rows, double lambda);
    /// Where the marker is, in plot coordinates (KL, reduction %).
    QPointF markerPosition() const;

    void resetView() override;

  private:
    void rebuildLabels();
    void updateMarker();

    std::vector<SweepRow> rows_;
    int seeds_ = 1;
    double lambda_ = 0;
    std::vector<QCPItemText*> labels_;
    QCPErrorBars* yBars_ = nullptr; ///< reduction sd
    QCPErrorBars* xBars_ = nullptr; ///< KL sd
    QCPItemTracer* marker_ = nullptr;
    QCPItemText* markerLabel_ = nullptr;
};

} // namespace attnsteer
