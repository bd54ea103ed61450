#pragma once
// A and A' of one attention row over the key tokens (A a pale area, A' the line over it), with the
// saliency s in a strip of its own below them.
// With a dump's sidecar: the vision tokens as one shaded band, text tokens named on the x axis
// (where they fit) and in the hover text. With a target: its tokens marked (amber bands). Clicking
// a token reports it (the window makes it the query when it is a query row).

#include "plot_data.h"
#include "plot_view.h"
#include "target_marks.h"

#include <QPair>
#include <QPoint>
#include <QVector>

#include <memory>
#include <vector>

class QCPAxisRect;
class QCPRange;
class QCPGraph;
class QCPItemRect;
class QCPItemStraightLine;
class QCPItemTracer;
class QCPItemText;
class QMouseEvent;

namespace attnsteer {

class PerTokenPlot : public PlotView {
    Q_OBJECT
  public:
    /// The graphs, in customPlot()->graph(i) order. x is the key index k, or the rank of s_k
    /// (0 = most salient) when sorted by saliency; y the value of token k.
    /// RATIO_GRAPH: A'/A of each key in the order of s (the ratio mode).
    enum Graph { AttentionGraph = 0, SteeredGraph = 1, SaliencyGraph = 2, RatioGraph = 3 };

    explicit PerTokenPlot(QWidget* parent = nullptr);
    QString viewName() const override { return QStringLiteral("per_token"); }

    /// Shows row (HEAD, QUERY): A, A' at LAMBDA and s, all of one length K (a shorter one is
    /// treated as missing). Keeps the zoom when K is unchanged.
    void setRow(std::vector<double> attention, std::vector<double> steered,
                std::vector<double> saliency, int head, int query, double lambda);
    /// Takes the per-token part of DATA (row, saliency, lambda, sorting, highlight, token texts
    /// and vision span, layer).
    void setData(const PlotData& data);
    /// The key tokens' texts (K, or empty) and the vision span: VISION_TOKENS keys from
    /// VISION_START (-1: none) in frames of GRID_HEIGHT x GRID_WIDTH. Labels the x axis and the
    /// hover text, shades the span.
    void setTokens(std::vector<QString> tokens, int visionStart, int visionTokens, int gridHeight,
                   int gridWidth);
    /// The layer the row is of (-1: not said) or how many layers it is the mean of (> 1).
    void setLayers(int layer, int layersAveraged);
    /// The target tokens, one flag per key (1 = target; empty or of another length: none).
    void setTarget(std::vector<unsigned char> target);
    /// The key tokens under the target marks drawn now, ascending.
    std::vector<int> markedTargetTokens() const;

    /// What the view shows: A and A' over the keys, or A'/A over the keys in the order of s.
    void setMode(PerTokenMode mode);
    PerTokenMode mode() const { return mode_; }
    void setSortBySaliency(bool sorted);
    bool sortBySaliency() const { return sorted_; }
    /// Marks key token TOKEN with a line and a label; -1 (or out of range) clears the mark.
    void highlightToken(int token);
    int highlightedToken() const { return highlighted_; }

    int tokenCount() const { return int(attention_.size()); }
    /// The x coordinate of TOKEN in the current order (k, or its rank by saliency).
    double tokenX(int token) const;
    /// The token under x coordinate X (nearest), or -1.
    int tokenAtX(double x) const;
    /// The hover tooltip: "token k: A=…, A′=…, s=…"; with token texts or a vision span
    /// "key k · 'text'" (or "key k · image (row r, col c)"; " · target" on a target token) and
    /// the values on a second line.
    QString tokenText(int token) const;
    /// The shaded vision span in key coordinates [first, last] (unsorted order), or (-1, -1) when
    /// none is shown.
    QPair<int, int> visionBand() const;
    /// The labels on the x axis now, with their x coordinates (after a replot).
    QVector<QPair<double, QString>> tickLabels() const;

    void resetView() override;

  signals:
    /// The mouse moved over key token TOKEN (-1 when it left the plot).
    void tokenHovered(int token);
    /// The user clicked (pressed and released without dragging) on key token TOKEN.
    void tokenClicked(int token);

  protected:
    void styleChanged(const PlotStyle& style) override;
    void pointerLeft() override;

  private:
    void rebuild(bool keepRanges);
    /// A' of the same row at a new lambda: its graph and legend entry, the range only when the
    /// values leave it (else their layer alone is drawn again).
    void showSteered();
    void nameSteered();
    /// A'/A of each key with attention, in the order of s, into the ratio graph.
    void setRatioData();
    /// Whether the ratios span more than a factor of 20 (a log axis then).
    bool ratioNeedsLog() const;
    /// The graphs, legend entries and label of the mode.
    void showMode();
    /// The value range of A and A' with a margin of MARGIN_SHARE of it on each side.
    QCPRange valueRange(double marginShare = 0.08) const;
    void updateHighlight();
    void updateVisionBand();
    void updateTargetMarks();
    void onMouseMove(QMouseEvent* event);

    std::vector<double> attention_, steered_, saliency_;
    std::vector<QString> tokens_;
    int visionStart_ = -1, visionTokens_ = 0, gridHeight_ = 0, gridWidth_ = 0;
    int layer_ = -1, layersAveraged_ = 1;
    bool headSteered_ = true;
    long long seed_ = -1;
    QCPAxisRect* saliencyRect_ = nullptr; ///< the strip of s below the attention
    QCPGraph* baseline_ = nullptr;        ///< the bottom of the value range: A's area ends there
    QCPItemRect* visionBand_ = nullptr;
    QCPItemText* visionLabel_ = nullptr;
    std::vector<unsigned char> target_;
    std::unique_ptr<TargetTokenItems> targetMarks_;
    std::vector<int> order_; ///< order_[x] = token at x
    std::vector<int> rank_;  ///< rank_[token] = x
    int head_ = 0, query_ = 0;
    double lambda_ = 0;
    bool sorted_ = false;
    PerTokenMode mode_ = PerTokenMode::Values;
    QCPItemStraightLine* unchangedLine_ = nullptr; ///< A'/A = 1
    bool settingsChanged_ = false;                 ///< setData changed more than the row
    bool userZoomed_ = false;
    int highlighted_ = -1;
    int hovered_ = -1;
    QCPItemStraightLine* highlightLine_ = nullptr;
    QCPItemTracer* highlightTracer_ = nullptr;
    QCPItemText* highlightLabel_ = nullptr;
};

} // namespace attnsteer
