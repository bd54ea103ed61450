#include "per_token_plot.h"

#include <qcustomplot.h>

#include <QToolTip>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace attnsteer {

namespace {

QString number(double value) {
    return QString::number(value, 'g', 6);
}

void setGraphData(QCPGraph* graph, const std::vector<double>& values,
                  const std::vector<int>& rank) {
    QVector<QCPGraphData> points(qsizetype(values.size()));
    for (std::size_t k = 0; k < values.size(); ++k)
        points[qsizetype(rank[k])] = QCPGraphData(double(rank[k]), values[k]);
    graph->data()->set(points, true);
}

} // namespace

PerTokenPlot::PerTokenPlot(QWidget* parent) : PlotView(parent) {
    QCustomPlot* plot = customPlot();
    plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    plot->axisRect()->setRangeDrag(Qt::Horizontal | Qt::Vertical);
    plot->axisRect()->setRangeZoom(Qt::Horizontal | Qt::Vertical);
    // Zoom and pan act on the attention axis; s keeps its own 0..max scale on yAxis2.
    plot->axisRect()->setRangeDragAxes(plot->xAxis, plot->yAxis);
    plot->axisRect()->setRangeZoomAxes(plot->xAxis, plot->yAxis);

    styleAxis(plot->xAxis, tr("key token"));
    styleAxis(plot->yAxis, tr("attention probability"));
    styleAxis(plot->yAxis2, tr("saliency s"));
    plot->yAxis2->setVisible(true);
    plot->yAxis2->grid()->setVisible(false);
    const QColor green = plotcolors::saliency();
    plot->yAxis2->setLabelColor(green.darker(120));
    plot->yAxis2->setTickLabelColor(green.darker(120));
    plot->yAxis2->setBasePen(QPen(green));
    plot->yAxis2->setTickPen(QPen(green));
    plot->yAxis2->setSubTickPen(QPen(green));
    plot->yAxis->setNumberFormat(QStringLiteral("gb"));

    // The graph indices follow the enum; s is moved to a lower layer so it lies behind A, A'.
    QCPGraph* attention = plot->addGraph(plot->xAxis, plot->yAxis);
    QCPGraph* steered = plot->addGraph(plot->xAxis, plot->yAxis);
    QCPGraph* saliency = plot->addGraph(plot->xAxis, plot->yAxis2);
    attention->setName(tr("A (original)"));
    attention->setPen(QPen(plotcolors::attention(), 1.0));
    steered->setName(tr("A′ (steered)"));
    steered->setPen(QPen(plotcolors::steered(), 1.0));
    saliency->setName(tr("s (saliency, right axis)"));
    QColor fill = green;
    fill.setAlpha(45);
    saliency->setPen(QPen(green.lighter(115), 1.0));
    saliency->setBrush(fill);
    saliency->setLayer(QStringLiteral("grid"));
    // Drawing cost at K = 1024 and more dominates a lambda change on screen: pens of width 1 take
    // the raster engine's fast line path, and an aliased fill is several times cheaper than an
    // antialiased one (340 ms -> 45 ms a replot); the picture is the same to the eye.
    plot->setNotAntialiasedElements(QCP::aeFills);

    plot->legend->setVisible(true);
    plot->legend->setFont(tickFont());
    plot->legend->setBrush(QColor(255, 255, 255, 220));
    plot->legend->setBorderPen(QPen(QColor(0, 0, 0, 60)));
    plot->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);

    highlightLine_ = new QCPItemStraightLine(plot);
    highlightLine_->setPen(QPen(plotcolors::marker(), 1, Qt::DashLine));
    highlightLine_->setVisible(false);
    highlightTracer_ = new QCPItemTracer(plot);
    highlightTracer_->setStyle(QCPItemTracer::tsCircle);
    highlightTracer_->setSize(9);
    highlightTracer_->setPen(QPen(plotcolors::marker(), 1.5));
    highlightTracer_->setBrush(plotcolors::steered());
    highlightTracer_->setVisible(false); // its graph is set while it is shown
    highlightLabel_ = new QCPItemText(plot);
    highlightLabel_->setPositionAlignment(Qt::AlignLeft | Qt::AlignTop);
    highlightLabel_->position->setParentAnchor(highlightTracer_->position);
    highlightLabel_->position->setCoords(6, 6);
    highlightLabel_->setFont(tickFont());
    highlightLabel_->setBrush(QColor(255, 255, 255, 220));
    highlightLabel_->setPadding(QMargins(3, 1, 3, 1));
    highlightLabel_->setVisible(false);

    connect(plot, &QCustomPlot::mouseMove, this, &PerTokenPlot::onMouseMove);
    connect(plot, &QCustomPlot::mouseWheel, this, [this] { userZoomed_ = true; });
    rebuild(false);
}

void PerTokenPlot::setRow(std::vector<double> attention, std::vector<double> steered,
                          std::vector<double> saliency, int head, int query, double lambda) {
    const bool sameLength = attention.size() == attention_.size();
    attention_ = std::move(attention);
    steered_ = std::move(steered);
    saliency_ = std::move(saliency);
    head_ = head, query_ = query, lambda_ = lambda;
    if (steered_.size() != attention_.size())
        steered_.clear();
    if (saliency_.size() != attention_.size())
        saliency_.clear();
    if (highlighted_ >= tokenCount())
        highlighted_ = -1;
    rebuild(sameLength);
}

void PerTokenPlot::setData(const PlotData& data) {
    sorted_ = data.sortBySaliency;
    highlighted_ = data.highlightedToken;
    setRow(data.attention, data.steered, data.saliency, data.head, data.query, data.lambda);
}

void PerTokenPlot::setSortBySaliency(bool sorted) {
    if (sorted == sorted_)
        return;
    sorted_ = sorted;
    rebuild(false);
}

void PerTokenPlot::rebuild(bool keepRanges) {
    QCustomPlot* plot = customPlot();
    const int keys = tokenCount();
    order_.resize(std::size_t(keys));
    std::iota(order_.begin(), order_.end(), 0);
    if (sorted_ && !saliency_.empty())
        std::stable_sort(order_.begin(), order_.end(),
                         [this](int a, int b) { return saliency_[a] > saliency_[b]; });
    rank_.resize(std::size_t(keys));
    for (int x = 0; x < keys; ++x)
        rank_[std::size_t(order_[std::size_t(x)])] = x;

    setGraphData(plot->graph(AttentionGraph), attention_, rank_);
    setGraphData(plot->graph(SteeredGraph), steered_, rank_);
    setGraphData(plot->graph(SaliencyGraph), saliency_, rank_);
    plot->graph(SteeredGraph)->setName(tr("A′ (steered, λ = %1)").arg(lambda_, 0, 'f', 3));
    plot->xAxis->setLabel(sorted_ ? tr("key token, ranked by saliency (0 = most salient)")
                                  : tr("key token"));
    setTitle(
        keys
            ? tr("Head %1, query %2: attention over %3 key tokens").arg(head_).arg(query_).arg(keys)
            : tr("Per-token attention (no data)"));
    // The ranges follow the data unless the user zoomed or panned into this same row length.
    if (!keepRanges || !userZoomed_)
        resetView();
    updateHighlight();
    scheduleReplot();
}

void PerTokenPlot::resetView() {
    QCustomPlot* plot = customPlot();
    userZoomed_ = false;
    const int keys = tokenCount();
    plot->xAxis->setRange(-0.5, std::max(keys, 1) - 0.5);
    bool found = false;
    QCPRange range = plot->graph(AttentionGraph)->getValueRange(found);
    bool foundSteered = false;
    const QCPRange steered = plot->graph(SteeredGraph)->getValueRange(foundSteered);
    if (foundSteered)
        range = found ? QCPRange(std::min(range.lower, steered.lower),
                                 std::max(range.upper, steered.upper))
                      : steered;
    if (found || foundSteered) {
        const double margin = std::max(range.size() * 0.08, std::abs(range.upper) * 1e-3);
        plot->yAxis->setRange(range.lower - margin, range.upper + margin);
    } else {
        plot->yAxis->setRange(0, 1);
    }
    bool foundS = false;
    const QCPRange s = plot->graph(SaliencyGraph)->getValueRange(foundS);
    if (foundS && s.size() > 0)
        plot->yAxis2->setRange(std::min(0.0, s.lower), s.upper + 0.05 * s.size());
    else
        plot->yAxis2->setRange(0, 1);
}

double PerTokenPlot::tokenX(int token) const {
    if (token < 0 || token >= tokenCount())
        return -1;
    return rank_[std::size_t(token)];
}

int PerTokenPlot::tokenAtX(double x) const {
    const long nearest = std::lround(x);
    if (!std::isfinite(x) || nearest < 0 || nearest >= tokenCount())
        return -1;
    return order_[std::size_t(nearest)];
}

QString PerTokenPlot::tokenText(int token) const {
    if (token < 0 || token >= tokenCount())
        return {};
    const auto k = std::size_t(token);
    QString text = tr("token %1: A=%2").arg(token).arg(number(attention_[k]));
    if (!steered_.empty())
        text += tr(", A′=%1").arg(number(steered_[k]));
    if (!saliency_.empty())
        text += tr(", s=%1").arg(number(saliency_[k]));
    return text;
}

void PerTokenPlot::highlightToken(int token) {
    if (token >= tokenCount())
        token = -1;
    if (token < -1)
        token = -1;
    if (token == highlighted_)
        return;
    highlighted_ = token;
    updateHighlight();
    scheduleReplot();
}

void PerTokenPlot::updateHighlight() {
    const bool visible = highlighted_ >= 0 && highlighted_ < tokenCount();
    highlightLine_->setVisible(visible);
    const bool onCurve = visible && !steered_.empty();
    highlightTracer_->setVisible(onCurve);
    highlightLabel_->setVisible(onCurve);
    highlightTracer_->setGraph(onCurve ? customPlot()->graph(SteeredGraph) : nullptr);
    if (!visible)
        return;
    const double x = tokenX(highlighted_);
    highlightLine_->point1->setCoords(x, 0);
    highlightLine_->point2->setCoords(x, 1);
    highlightTracer_->setGraphKey(x);
    highlightLabel_->setText(tr("token %1").arg(highlighted_));
}

void PerTokenPlot::onMouseMove(QMouseEvent* event) {
    QCustomPlot* plot = customPlot();
    if (event->buttons() & Qt::LeftButton)
        userZoomed_ = true; // dragging pans
    const QPointF pos = event->position();
    int token = -1;
    if (plot->axisRect()->rect().contains(pos.toPoint()))
        token = tokenAtX(plot->xAxis->pixelToCoord(pos.x()));
    if (token >= 0)
        QToolTip::showText(event->globalPosition().toPoint(), tokenText(token), plot);
    else
        QToolTip::hideText();
    if (token != hovered_) {
        hovered_ = token;
        emit tokenHovered(token);
    }
}

} // namespace attnsteer
