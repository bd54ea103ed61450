#pragma once
// The saliency s as a grid of tokens with a colour scale; with a loaded image, the image with the
// token grid over it and a per-token heat overlay of adjustable opacity.

#include "plot_data.h"
#include "plot_view.h"

#include <QImage>
#include <QPoint>

#include <vector>

class QCPColorMap;
class QCPColorScale;
class QCPItemPixmap;
class QCPItemLine;
class QCPItemRect;
class QMouseEvent;

namespace attnsteer {

class SaliencyGridPlot : public PlotView {
    Q_OBJECT
  public:
    explicit SaliencyGridPlot(QWidget* parent = nullptr);
    QString viewName() const override { return QStringLiteral("saliency"); }

    /// SALIENCY has one value per key; the grid shows keys OFFSET .. OFFSET + GH*GW - 1 in raster
    /// order (token (r, c) is key OFFSET + r*GW + c). GH or GW <= 0: gridShapeFor(K), offset 0.
    void setSaliency(std::vector<double> saliency, int gridHeight, int gridWidth, int offset = 0);
    /// The image drawn under the grid, stretched over it (each token covers its box of the
    /// image); a null image shows the plain colour grid.
    void setImage(const QImage& image);
    /// 0..1: how strongly the heat overlay covers the image (no effect without an image).
    void setOverlayOpacity(double opacity);
    void setData(const PlotData& data);

    int gridHeight() const { return gridHeight_; }
    int gridWidth() const { return gridWidth_; }
    int gridOffset() const { return offset_; }
    bool hasImage() const { return !image_.isNull(); }
    double overlayOpacity() const { return opacity_; }

    /// Marks key TOKEN (when it is on the grid) with a frame; -1 clears.
    void highlightToken(int token);
    int highlightedToken() const { return highlighted_; }
    /// The key under widget position PIXEL of customPlot(), or -1.
    int tokenAt(QPoint pixel) const;
    /// The centre of key TOKEN's cell in customPlot() pixels; (-1, -1) when not on the grid.
    QPoint tokenCenter(int token) const;

    void resetView() override;

  signals:
    /// The mouse moved onto key token TOKEN (-1 when it left the grid).
    void tokenHovered(int token);

  protected:
    void fitToSize(QSize size) override;

  private:
    void rebuild();
    void updateOverlay();
    void onMouseMove(QMouseEvent* event);

    std::vector<double> saliency_;
    int gridHeight_ = 0, gridWidth_ = 0, offset_ = 0;
    QImage image_;
    double opacity_ = 0.55;
    int highlighted_ = -1;
    int hovered_ = -1;
    QCPColorMap* map_ = nullptr;
    QCPColorScale* scale_ = nullptr;
    QCPItemPixmap* pixmap_ = nullptr;
    QCPItemRect* frame_ = nullptr;
    std::vector<QCPItemLine*> lines_;
};

} // namespace attnsteer
