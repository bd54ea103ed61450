#pragma once
// The tradeoff curve: entropy reduction % (or another gain, TradeoffY) against KL(A‖A′) over a
// lambda grid, mean and seed-to-seed standard deviation as error bars, a marker at the current
// lambda whose numbers are a line below the plot, and optionally a second curve (the top-k heads
// steered) over the same grid. Lambda labels that would collide are left out.

#include "plot_data.h"
#include "plot_view.h"

#include <QPointF>
#include <QRect>
#include <QRectF>
#include <QVector>

#include <vector>

class QCPErrorBars;
class QCPItemText;
class QCPTextElement;
class QCPItemTracer;

namespace attnsteer {

class TradeoffPlot : public PlotView {
    Q_OBJECT
  public:
    explicit TradeoffPlot(QWidget* parent = nullptr);
    QString viewName() const override { return QStringLiteral("tradeoff"); }

    /// ROWS in ascending lambda; SEEDS is how many seeds the means and sds are over.
    void setSweep(std::vector<SweepRow> rows, int seeds);
    /// The second curve (ascending lambda) and its legend; empty ROWS: none.
    void setComparison(std::vector<SweepRow> rows, const QString& label);
    /// The legend of the first curve; empty: "mean over seeds".
    void setCurveLabel(const QString& label);
    /// What the y axis shows (both curves).
    void setYQuantity(TradeoffY y);
    TradeoffY yQuantity() const { return y_; }
    /// Moves the marker to LAMBDA, interpolated linearly between the grid points (clamped to
    /// the grid's ends).
    void setLambda(double lambda);
    void setData(const PlotData& data);

    const std::vector<SweepRow>& sweep() const { return rows_; }
    const std::vector<SweepRow>& comparison() const { return comparison_; }
    /// ROW's mean and sd of Y.
    static double yMean(const SweepRow& row, TradeoffY y);
    static double yStd(const SweepRow& row, TradeoffY y);
    /// Y's axis label and short name ("entropy reduction [%]", "reduction").
    static QString yLabel(TradeoffY y);
    /// The points the curves show, (KL, y) per lambda: GRAPH 0 the sweep, 1 the comparison.
    std::vector<QPointF> curvePoints(int graph) const;
    /// (KL, Y) of LAMBDA on the curve; (NaN, NaN) without a sweep.
    static QPointF interpolate(const std::vector<SweepRow>& rows, double lambda,
                               TradeoffY y = TradeoffY::EntropyReduction);
    /// Where the marker is, in plot coordinates (KL, y).
    QPointF markerPosition() const;
    /// Whether the marker is drawn: a sweep is there and lambda lies on its grid.
    bool markerShown() const;
    /// The marker's numbers: "○ λ = 0.250: KL = … nats, reduction = … % (mean of 3 seeds)", or
    /// that lambda is outside the curve; empty without a sweep.
    QString readout() const;
    /// Where the readout line is drawn (customPlot() pixels; empty when it is not).
    QRect readoutRect() const;
    /// The lambda labels drawn now, their text's rectangles in customPlot() pixels (after a
    /// replot).
    QVector<QRectF> shownLabelRects() const;
    /// LAMBDA as the labels write it: three significant digits, no exponent ("600", "0.21").
    static QString lambdaText(double lambda);

    void resetView() override;

  protected:
    void styleChanged(const PlotStyle& style) override;
    void fitToSize(QSize size) override;

  private:
    void rebuildLabels();
    /// Shows the labels that fit: inside the plot, off the legend and off each other.
    void placeLabels();
    /// Puts the legend in the corner the curve leaves emptiest.
    void placeLegend();
    QRectF labelRect(const QCPItemText* label) const;
    void updateMarker();
    /// "mean ± sd over 3 seeds (0–2)" or "seed 0".
    QString seedsText() const;

    void showCurves();

    std::vector<SweepRow> rows_;
    std::vector<SweepRow> comparison_;
    QString curveLabel_, comparisonLabel_;
    TradeoffY y_ = TradeoffY::EntropyReduction;
    int seeds_ = 1;
    unsigned long long firstSeed_ = 0;
    bool fileWorkload_ = false; ///< the workload is a file (PlotData::seed -1): no seed to name
    QString readoutText_;
    double lambda_ = 0;
    std::vector<QCPItemText*> labels_;
    QCPErrorBars* yBars_ = nullptr;          ///< y sd
    QCPErrorBars* xBars_ = nullptr;          ///< KL sd
    QCPErrorBars* comparisonBars_ = nullptr; ///< the comparison's y sd
    QCPItemTracer* marker_ = nullptr;
    QCPTextElement* readout_ = nullptr;
};

} // namespace attnsteer
