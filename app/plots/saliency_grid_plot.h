#pragma once
// The vision tokens as a grid with a colour scale: the saliency s, or the attention A, the steered
// A' or the change A' - A of the row shown (or of the mean over its head's queries), each with
// its own colour scale. With an image (a dump's picture or a loaded saliency image), the image
// with the token grid over it and a per-token heat overlay of adjustable opacity. With a target:
// its outline (amber). Clicking a token reports it (the window makes it the query when it is a
// query row).

#include "plot_data.h"
#include "plot_view.h"
#include "target_marks.h"

#include <QImage>
#include <QPoint>

#include <memory>
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
    /// The attention of the row shown and the mean over the head's queries, K values each (A and
    /// A'), and what they are of (for the title and the colour scale's label): HEAD of LAYER (-1:
    /// not said) or the mean over LAYERS_AVERAGED layers (> 1), QUERY, MEAN_ROWS rows in the
    /// mean over queries, LAMBDA.
    void setAttention(std::vector<double> attention, std::vector<double> steered,
                      std::vector<double> meanAttention, std::vector<double> meanSteered, int head,
                      int layer, int layersAveraged, int query, int meanRows, double lambda);
    /// What the cells show. A and A' share one sequential scale from 0 to the largest A or A' of
    /// the tokens on the grid (so that they compare); A' - A a diverging one symmetric around 0.
    void setMode(ImageMode mode);
    ImageMode mode() const { return mode_; }
    /// The target tokens, one flag per key (1 = target; empty: none): outlined on the grid.
    void setTarget(std::vector<unsigned char> target);
    /// The target's outline drawn now, in grid coordinates (targetOutline()).
    const std::vector<QLineF>& targetOutlineSegments() const;
    /// A, A' and A' - A of the mean over the head's queries instead of the row's query.
    void setQueryMean(bool mean);
    bool queryMean() const { return queryMean_; }
    /// The value the cell of key TOKEN shows in the current mode (NaN when not on the grid or
    /// not known).
    double shownValue(int token) const;

    int gridHeight() const { return gridHeight_; }
    int gridWidth() const { return gridWidth_; }
    int gridOffset() const { return offset_; }
    bool hasImage() const { return !image_.isNull(); }
    double overlayOpacity() const { return opacity_; }

    /// The opacity of the overlay's cell of key TOKEN (0..255; 255 without an image), -1 when
    /// not on the grid.
    int overlayAlpha(int token) const;

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
    /// The user clicked (pressed and released without dragging) on key token TOKEN.
    void tokenClicked(int token);

  protected:
    void fitToSize(QSize size) override;
    void styleChanged(const PlotStyle& style) override;
    void pointerLeft() override;

  private:
    void rebuild();
    /// The cells' values, colour scale, overlay and title for the current mode.
    void updateValues();
    void updateOverlay();
    void onMouseMove(QMouseEvent* event);
    /// The values per key of the current mode (empty when not known).
    std::vector<double> modeValues() const;

    std::vector<double> saliency_;
    std::vector<double> attention_, steered_, meanAttention_, meanSteered_;
    int head_ = 0, layer_ = -1, layersAveraged_ = 1;
    int query_ = 0, meanRows_ = 0;
    double lambda_ = 0;
    ImageMode mode_ = ImageMode::Saliency;
    bool queryMean_ = false;
    std::vector<double> shown_; ///< modeValues(), as the cells show them
    qint64 imageKey_ = 0;       ///< cacheKey of the image the pixmap was made from
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
    std::vector<unsigned char> target_;
    std::unique_ptr<TargetOutlineItems> outline_;
};

} // namespace attnsteer
