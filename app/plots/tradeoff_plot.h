#pragma once
// The tradeoff curve: entropy reduction % (y) against KL(A‖A′) (x) over a lambda grid, mean and
// seed-to-seed standard deviation as error bars, and a marker at the current lambda whose numbers
// are a line below the plot. Lambda labels that would collide are left out.

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
    /// Moves the marker to LAMBDA, interpolated linearly between the grid points (clamped to
    /// the grid's ends).
    void setLambda(double lambda);
    void setData(const PlotData& data);

    const std::vector<SweepRow>& sweep() const { return rows_; }
    /// (KL, reduction %) of LAMBDA on the curve; (NaN, NaN) without a sweep.
    static QPointF interpolate(const std::vector<SweepRow>& rows, double lambda);
    /// Where the marker is, in plot coordinates (KL, reduction %).
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

    std::vector<SweepRow> rows_;
    int seeds_ = 1;
    unsigned long long firstSeed_ = 0;
    bool fileWorkload_ = false; ///< the workload is a file (PlotData::seed -1): no seed to name
    QString readoutText_;
    double lambda_ = 0;
    std::vector<QCPItemText*> labels_;
    QCPErrorBars* yBars_ = nullptr; ///< reduction sd
    QCPErrorBars* xBars_ = nullptr; ///< KL sd
    QCPItemTracer* marker_ = nullptr;
    QCPTextElement* readout_ = nullptr;
};

} // namespace attnsteer
