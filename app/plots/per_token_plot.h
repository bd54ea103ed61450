#pragma once
// A and A' of one attention row over the key tokens, with the saliency s on a second y axis.

#include "plot_data.h"
#include "plot_view.h"

#include <vector>

class QCPGraph;
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
    enum Graph { AttentionGraph = 0, SteeredGraph = 1, SaliencyGraph = 2 };

    explicit PerTokenPlot(QWidget* parent = nullptr);
    QString viewName() const override { return QStringLiteral("per_token"); }

    /// Shows row (HEAD, QUERY): A, A' at LAMBDA and s, all of one length K (a shorter one is
    /// treated as missing). Keeps the zoom when K is unchanged.
    void setRow(std::vector<double> attention, std::vector<double> steered,
                std::vector<double> saliency, int head, int query, double lambda);
    /// Takes the per-token part of DATA (row, saliency, lambda, sorting, highlight).
    void setData(const PlotData& data);

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
    /// "token k: A=…, A′=…, s=…", the hover tooltip.
    QString tokenText(int token) const;

    void resetView() override;

  signals:
    /// The mouse moved over key token TOKEN (-1 when it left the plot).
    void tokenHovered(int token);

  private:
    void rebuild(bool keepRanges);
    void updateHighlight();
    void onMouseMove(QMouseEvent* event);

    std::vector<double> attention_, steered_, saliency_;
    std::vector<int> order_; ///< order_[x] = token at x
    std::vector<int> rank_;  ///< rank_[token] = x
    int head_ = 0, query_ = 0;
    double lambda_ = 0;
    bool sorted_ = false;
    bool userZoomed_ = false;
    int highlighted_ = -1;
    int hovered_ = -1;
    QCPItemStraightLine* highlightLine_ = nullptr;
    QCPItemTracer* highlightTracer_ = nullptr;
    QCPItemText* highlightLabel_ = nullptr;
};

} // namespace attnsteer
