#pragma once
// The window's centre: the per-token view on top; the tradeoff curve, the saliency grid (with its
// caption and overlay opacity) and the matrix below, in splitters. Each view is filled from the
// PlotData that the window assembles (assemblePlotData), the same that "Export all plots" draws.

#include "plot_data.h"

#include <QSplitter>

#include <array>

namespace attnsteer {

class MatrixPlot;
class PerTokenPlot;
class PlotView;
class SaliencyGridPlot;
class SaliencyPanel;
class TradeoffPlot;
struct WindowControls;

class PlotPanel : public QSplitter {
    Q_OBJECT
  public:
    /// Creates imageCaption and overlayOpacity in CONTROLS.
    explicit PlotPanel(WindowControls& controls, QWidget* parent = nullptr);

    PerTokenPlot* perToken() const { return perToken_; }
    TradeoffPlot* tradeoff() const { return tradeoff_; }
    SaliencyGridPlot* grid() const { return grid_; }
    MatrixPlot* matrix() const { return matrix_; }
    /// The four views: per-token, tradeoff, saliency grid, matrix.
    std::array<PlotView*, 4> views() const;
    QSplitter* bottomSplitter() const { return bottomSplitter_; }

    /// The saliency grid of DATA, its caption; the panel takes the grid's shape.
    void showSaliency(const PlotData& data);
    /// The per-token row and the matrix of DATA.
    void showRows(PlotData data);
    /// The matrix of DATA.
    void showMatrix(PlotData data);
    /// The tradeoff curve of DATA, its marker at DATA.lambda.
    void showSweep(const PlotData& data);
    /// Sets DATA's view settings as the views have them: sorting, highlighted token, overlay
    /// opacity, the image view's mode.
    void addViewSettings(PlotData& data) const;

  signals:
    /// A row of the matrix was clicked.
    void queryPicked(int query);
    /// A key token was clicked in the per-token or the image view.
    void keyPicked(int key);

  private:
    WindowControls& c_;
    PerTokenPlot* perToken_ = nullptr;
    TradeoffPlot* tradeoff_ = nullptr;
    SaliencyGridPlot* grid_ = nullptr;
    MatrixPlot* matrix_ = nullptr;
    SaliencyPanel* saliencyPanel_ = nullptr;
    QSplitter* bottomSplitter_ = nullptr;
};

} // namespace attnsteer
