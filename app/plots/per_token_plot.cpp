#include "per_token_plot.h"

#include <qcustomplot.h>

#include <QToolTip>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
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

constexpr int kTickLabelGap = 8; ///< pixels between two token labels on the x axis
const QString kLiveLayer = QStringLiteral("live"); ///< A' and the legend
constexpr int kMaxTickLabelChars = 14;

/// A token's text as an x-axis label: blanks at the ends dropped, line breaks shown as ↵, long
/// texts shortened with an ellipsis.
QString axisLabel(const QString& token) {
    QString text = token;
    text.replace(QLatin1Char('\n'), QChar(0x21b5));
    text = text.trimmed();
    if (text.size() > kMaxTickLabelChars)
        text = text.left(kMaxTickLabelChars - 1) + QChar(0x2026);
    return text;
}

/// Whether a token label says little: a special token ("<|im_start|>") or punctuation and line
/// breaks alone. Such labels get the room that words leave.
bool isMinorLabel(const QString& label) {
    if (label.startsWith(QStringLiteral("<|")) || label.startsWith(QLatin1Char('<')))
        return true;
    return std::none_of(label.begin(), label.end(), [](QChar c) { return c.isLetterOrNumber(); });
}

/// Ticks at the text tokens whose labels fit: words first, then special tokens and punctuation
/// where room is left, each left to right; a label that would overlap one already placed is
/// skipped. Without labels, the usual numbers.
class TokenTicker : public QCPAxisTicker {
  public:
    explicit TokenTicker(QCPAxis* axis) : axis_(axis) {}
    /// LABELS[x]: the label at x (empty: none there).
    void setLabels(std::vector<QString> labels) {
        labels_ = std::move(labels);
        minor_.assign(labels_.size(), false);
        for (std::size_t x = 0; x < labels_.size(); ++x)
            minor_[x] = isMinorLabel(labels_[x]);
    }

    void generate(const QCPRange& range, const QLocale& locale, QChar formatChar, int precision,
                  QVector<double>& ticks, QVector<double>* subTicks,
                  QVector<QString>* tickLabels) override {
        if (labels_.empty()) {
            QCPAxisTicker::generate(range, locale, formatChar, precision, ticks, subTicks,
                                    tickLabels);
            return;
        }
        ticks.clear();
        if (subTicks)
            subTicks->clear();
        if (tickLabels)
            tickLabels->clear();
        const QFontMetrics metrics(axis_->tickLabelFont());
        const long first = std::max(0L, long(std::ceil(range.lower)));
        const long last = std::min(long(labels_.size()) - 1, long(std::floor(range.upper)));
        // Placed labels: left pixel edge -> (right edge, x), kept apart by kTickLabelGap.
        std::map<double, std::pair<double, long>> placed;
        const auto fits = [&placed](double left, double right) {
            auto next = placed.lower_bound(left);
            if (next != placed.end() && next->first < right + kTickLabelGap)
                return false;
            if (next != placed.begin() && std::prev(next)->second.first + kTickLabelGap > left)
                return false;
            return true;
        };
        for (const bool minor : {false, true})
            for (long x = first; x <= last; ++x) {
                const QString& label = labels_[std::size_t(x)];
                if (label.isEmpty() || minor_[std::size_t(x)] != minor)
                    continue;
                const double centre = axis_->coordToPixel(double(x));
                const double half = metrics.horizontalAdvance(label) / 2.0;
                if (fits(centre - half, centre + half))
                    placed.emplace(centre - half, std::make_pair(centre + half, x));
            }
        // In the order of x (the axis may be reversed in pixels: it is not here).
        for (const auto& [left, place] : placed) {
            ticks << double(place.second);
            if (tickLabels)
                *tickLabels << labels_[std::size_t(place.second)];
        }
    }

  private:
    QCPAxis* axis_;
    std::vector<QString> labels_;
    std::vector<bool> minor_;
};

} // namespace

PerTokenPlot::PerTokenPlot(QWidget* parent) : PlotView(parent) {
    QCustomPlot* plot = customPlot();
    plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    // Wheel and drag move along the tokens only: the value axis keeps showing the whole row.
    plot->axisRect()->setRangeDrag(Qt::Horizontal);
    plot->axisRect()->setRangeZoom(Qt::Horizontal);
    plot->axisRect()->setRangeDragAxes(plot->xAxis, plot->yAxis);
    plot->axisRect()->setRangeZoomAxes(plot->xAxis, plot->yAxis);

    styleAxis(plot->xAxis, tr("key token"));
    styleAxis(plot->yAxis, tr("attention"));
    plot->yAxis->setNumberFormat(QStringLiteral("gb"));

    // The saliency has its own strip below the attention, on the same tokens: it never covers
    // A or A'. The strip follows the main axis' token range.
    // Rows: the title, the legend (a line of its own: it never covers the data), the attention,
    // the saliency.
    QCPLayoutGrid* layout = plot->plotLayout();
    plot->axisRect()->insetLayout()->take(plot->legend);
    layout->insertRow(1);
    layout->addElement(1, 0, plot->legend);
    plot->legend->setFillOrder(QCPLayoutGrid::foColumnsFirst);
    plot->legend->setVisible(true);
    plot->legend->setBorderPen(Qt::NoPen);
    plot->legend->setBrush(Qt::NoBrush);
    plot->legend->setMargins(QMargins(0, 0, 0, 0));
    saliencyRect_ = new QCPAxisRect(plot);
    layout->addElement(3, 0, saliencyRect_);
    layout->setRowStretchFactor(0, 0.01);
    layout->setRowStretchFactor(1, 0.01);
    layout->setRowStretchFactor(2, 3.0);
    layout->setRowStretchFactor(3, 1.0);
    layout->setRowSpacing(0);
    saliencyRect_->setupFullAxesBox(false);
    saliencyRect_->setRangeDrag(Qt::Orientations());
    saliencyRect_->setRangeZoom(Qt::Orientations());
    QCPAxis* sKeys = saliencyRect_->axis(QCPAxis::atBottom);
    QCPAxis* sValues = saliencyRect_->axis(QCPAxis::atLeft);
    for (QCPAxis* axis : saliencyRect_->axes()) {
        styleAxis(axis, QString());
        axis->grid()->setVisible(false);
        axis->setTickLabels(false);
        axis->setTicks(false);
    }
    sValues->setTickLabels(true);
    sValues->setTicks(true);
    sValues->setSubTicks(false);
    sValues->setLabel(tr("s"));
    const QColor green = plotcolors::saliency();
    sValues->setLabelColor(green.darker(130));
    sValues->setTickLabelColor(green.darker(130));
    QSharedPointer<QCPAxisTicker> sTicker(new QCPAxisTicker);
    sTicker->setTickCount(2);
    sValues->setTicker(sTicker);
    connect(plot->xAxis, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), sKeys,
            qOverload<const QCPRange&>(&QCPAxis::setRange));
    // Left and right edges of the two rects line up.
    auto* margins = new QCPMarginGroup(plot);
    plot->axisRect()->setMarginGroup(QCP::msLeft | QCP::msRight, margins);
    saliencyRect_->setMarginGroup(QCP::msLeft | QCP::msRight, margins);
    plot->legend->setMarginGroup(QCP::msLeft | QCP::msRight, margins);
    plot->legend->setAutoMargins(QCP::msLeft | QCP::msRight);
    plot->axisRect()->setMargins(QMargins(0, 0, 0, 0));
    saliencyRect_->setAutoMargins(QCP::msLeft | QCP::msRight | QCP::msBottom);
    saliencyRect_->setMargins(QMargins(0, 2, 0, 0));

    // The graph indices follow the enum. A is a pale area (its top edge is A), A' the line drawn
    // over it: where A' = A (lambda 0, an unsteered head) the line runs along the area's edge,
    // so neither hides the other.
    QCPGraph* attention = plot->addGraph(plot->xAxis, plot->yAxis);
    QCPGraph* steered = plot->addGraph(plot->xAxis, plot->yAxis);
    QCPGraph* saliency = plot->addGraph(sKeys, sValues);
    QCPGraph* ratio = plot->addGraph(plot->xAxis, plot->yAxis);
    ratio->setVisible(false);
    baseline_ = plot->addGraph(plot->xAxis, plot->yAxis);
    baseline_->setPen(Qt::NoPen);
    baseline_->removeFromLegend();
    baseline_->setSelectable(QCP::stNone);
    connect(plot->yAxis, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), this,
            [this](const QCPRange& range) {
                const double keys = std::max(tokenCount(), 1);
                baseline_->setData({-1.0, keys}, {range.lower, range.lower}, true);
            });
    // A' and the legend (whose A' entry names lambda) on a layer of their own, drawn again alone
    // when only lambda changed.
    plot->addLayer(kLiveLayer, plot->layer(QStringLiteral("main")), QCustomPlot::limAbove);
    plot->layer(kLiveLayer)->setMode(QCPLayer::lmBuffered);
    steered->setLayer(kLiveLayer);
    ratio->setLayer(kLiveLayer);
    plot->legend->setLayer(kLiveLayer);
    for (int i = 0; i < plot->legend->itemCount(); ++i)
        plot->legend->item(i)->setLayer(kLiveLayer);
    attention->setName(tr("A (original)"));
    steered->setName(tr("A′ (steered)"));
    saliency->setName(tr("s (saliency)"));
    saliency->removeFromLegend();
    ratio->removeFromLegend();
    // The two entries packed to the left: an empty last column takes the rest of the width.
    plot->legend->expandTo(1, 3);
    plot->legend->setColumnStretchFactors({0.001, 0.001, 1.0});
    // Drawing cost at K = 1024 and more dominates a lambda change on screen: pens of width 1 take
    // the raster engine's fast line path, and an aliased fill is several times cheaper than an
    // antialiased one; the picture is the same to the eye.
    plot->setNotAntialiasedElements(QCP::aeFills);

    highlightLine_ = new QCPItemStraightLine(plot);
    highlightLine_->setVisible(false);
    // A'/A = 1: where attention is unchanged.
    unchangedLine_ = new QCPItemStraightLine(plot);
    unchangedLine_->point1->setCoords(0, 1);
    unchangedLine_->point2->setCoords(1, 1);
    unchangedLine_->setVisible(false);
    highlightTracer_ = new QCPItemTracer(plot);
    highlightTracer_->setStyle(QCPItemTracer::tsCircle);
    highlightTracer_->setBrush(plotcolors::steered());
    highlightTracer_->setVisible(false); // its graph is set while it is shown
    highlightLabel_ = new QCPItemText(plot);
    highlightLabel_->setPositionAlignment(Qt::AlignLeft | Qt::AlignTop);
    highlightLabel_->position->setParentAnchor(highlightTracer_->position);
    highlightLabel_->position->setCoords(6, 6);
    highlightLabel_->setBrush(QColor(255, 255, 255, 220));
    highlightLabel_->setPadding(QMargins(3, 1, 3, 1));
    highlightLabel_->setVisible(false);

    // The vision tokens: one light band behind the curves, labelled "image".
    visionBand_ = new QCPItemRect(plot);
    visionBand_->setLayer(QStringLiteral("background"));
    visionBand_->setPen(Qt::NoPen);
    visionBand_->setBrush(QColor(0x8a, 0x9b, 0xb0, 40));
    for (QCPItemPosition* corner : {visionBand_->topLeft, visionBand_->bottomRight}) {
        corner->setTypeX(QCPItemPosition::ptPlotCoords);
        corner->setTypeY(QCPItemPosition::ptAxisRectRatio);
    }
    visionBand_->setClipToAxisRect(true);
    visionBand_->setVisible(false);
    visionLabel_ = new QCPItemText(plot);
    visionLabel_->setLayer(QStringLiteral("background"));
    visionLabel_->position->setTypeX(QCPItemPosition::ptPlotCoords);
    visionLabel_->position->setTypeY(QCPItemPosition::ptAxisRectRatio);
    visionLabel_->setPositionAlignment(Qt::AlignHCenter | Qt::AlignTop);
    visionLabel_->setColor(QColor(0x4a, 0x55, 0x66));
    visionLabel_->setClipToAxisRect(true);
    visionLabel_->setVisible(false);
    targetMarks_ = std::make_unique<TargetTokenItems>(plot, tickFont());
    plot->xAxis->setTicker(QSharedPointer<QCPAxisTicker>(new TokenTicker(plot->xAxis)));

    connect(plot, &QCustomPlot::mouseMove, this, &PerTokenPlot::onMouseMove);
    connect(plot, &QCustomPlot::mouseWheel, this, [this] { userZoomed_ = true; });
    onLeftClick([this](QPoint release) {
        QCustomPlot* plot = customPlot();
        if (!plot->axisRect()->rect().contains(release))
            return;
        const int token = tokenAtX(plot->xAxis->pixelToCoord(release.x()));
        if (token >= 0)
            emit tokenClicked(token);
    });
    applyStyle(PlotStyle::screen());
    rebuild(false);
}

void PerTokenPlot::styleChanged(const PlotStyle& style) {
    QCustomPlot* plot = customPlot();
    QColor area = plotcolors::attention();
    area.setAlpha(70);
    plot->graph(AttentionGraph)->setPen(Qt::NoPen);
    plot->graph(AttentionGraph)->setBrush(area);
    // A's area reaches down to the bottom of the value range (a baseline graph there), not to 0
    // outside it: a figure's SVG has no clipping to cut it at the axis.
    plot->graph(AttentionGraph)->setChannelFillGraph(baseline_);
    plot->graph(SteeredGraph)->setPen(QPen(plotcolors::steered(), style.line));
    QColor fill = plotcolors::saliency();
    fill.setAlpha(110);
    plot->graph(SaliencyGraph)->setPen(QPen(plotcolors::saliency(), style.thin));
    plot->graph(SaliencyGraph)->setBrush(fill);
    // A figure's curve stands out a little wider; on screen a pen wider than 1 px leaves the
    // raster engine's fast line path: drawing the curve took 3 ms instead of 0.7 ms a lambda.
    plot->graph(RatioGraph)
        ->setPen(QPen(plotcolors::steered(), style.figure ? 1.6 * style.line : style.line));
    unchangedLine_->setPen(QPen(QColor(90, 90, 90), style.thin, Qt::DashLine));
    highlightLine_->setPen(QPen(plotcolors::marker(), style.thin, Qt::DashLine));
    highlightTracer_->setPen(QPen(plotcolors::marker(), 1.5 * style.thin));
    highlightTracer_->setSize(9 * style.symbol);
    highlightLabel_->setFont(style.tick);
    visionLabel_->setFont(style.tick);
    updateHighlight();
}

void PerTokenPlot::pointerLeft() {
    QToolTip::hideText();
    if (hovered_ != -1) {
        hovered_ = -1;
        emit tokenHovered(-1);
    }
}

void PerTokenPlot::setRow(std::vector<double> attention, std::vector<double> steered,
                          std::vector<double> saliency, int head, int query, double lambda) {
    // A new lambda for the row shown (a dragged slider): only A' and its legend entry change.
    // When the value range still suits, only their layer is drawn again.
    if (!settingsChanged_ && head == head_ && query == query_ && !steered_.empty() &&
        steered.size() == steered_.size() && attention == attention_ && saliency == saliency_) {
        steered_ = std::move(steered);
        lambda_ = lambda;
        showSteered();
        return;
    }
    settingsChanged_ = false;
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
    settingsChanged_ = sorted_ != data.sortBySaliency || highlighted_ != data.highlightedToken ||
                       tokens_ != data.tokens || visionStart_ != data.visionStart ||
                       visionTokens_ != data.visionTokens || gridHeight_ != data.gridHeight ||
                       gridWidth_ != data.gridWidth || layer_ != data.layer ||
                       layersAveraged_ != data.layersAveraged || headSteered_ != data.headSteered ||
                       seed_ != data.seed || mode_ != data.perTokenMode;
    mode_ = data.perTokenMode;
    sorted_ = data.sortBySaliency;
    highlighted_ = data.highlightedToken;
    tokens_ = data.tokens;
    visionStart_ = data.visionStart, visionTokens_ = data.visionTokens;
    gridHeight_ = data.gridHeight, gridWidth_ = data.gridWidth;
    layer_ = data.layer, layersAveraged_ = data.layersAveraged;
    headSteered_ = data.headSteered, seed_ = data.seed;
    target_ = data.target;
    setRow(data.attention, data.steered, data.saliency, data.head, data.query, data.lambda);
}

void PerTokenPlot::setTokens(std::vector<QString> tokens, int visionStart, int visionTokens,
                             int gridHeight, int gridWidth) {
    tokens_ = std::move(tokens);
    visionStart_ = visionStart, visionTokens_ = visionTokens;
    gridHeight_ = gridHeight, gridWidth_ = gridWidth;
    rebuild(true);
}

void PerTokenPlot::setLayers(int layer, int layersAveraged) {
    layer_ = layer, layersAveraged_ = layersAveraged;
    rebuild(true);
}

void PerTokenPlot::setTarget(std::vector<unsigned char> target) {
    target_ = std::move(target);
    rebuild(true);
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
    const bool ratio = mode_ == PerTokenMode::RatioBySaliency;
    order_.resize(std::size_t(keys));
    std::iota(order_.begin(), order_.end(), 0);
    if (ratio && !saliency_.empty()) // lowest s on the left: the change rises to the right
        std::stable_sort(order_.begin(), order_.end(),
                         [this](int a, int b) { return saliency_[a] < saliency_[b]; });
    else if (sorted_ && !saliency_.empty())
        std::stable_sort(order_.begin(), order_.end(),
                         [this](int a, int b) { return saliency_[a] > saliency_[b]; });
    rank_.resize(std::size_t(keys));
    for (int x = 0; x < keys; ++x)
        rank_[std::size_t(order_[std::size_t(x)])] = x;

    // In the ratio mode A and A' are hidden and keep the key order.
    std::vector<int> keyOrder(static_cast<std::size_t>(keys));
    std::iota(keyOrder.begin(), keyOrder.end(), 0);
    setGraphData(plot->graph(AttentionGraph), attention_, ratio ? keyOrder : rank_);
    setGraphData(plot->graph(SteeredGraph), steered_, ratio ? keyOrder : rank_);
    setGraphData(plot->graph(SaliencyGraph), saliency_, rank_);
    setRatioData();
    showMode();
    nameSteered();
    // Token texts on the x axis, in the order shown; none for vision tokens.
    std::vector<QString> labels;
    if (std::size_t(keys) == tokens_.size()) {
        labels.resize(std::size_t(keys));
        for (int x = 0; x < keys; ++x) {
            const int token = order_[std::size_t(x)];
            const bool vision =
                visionStart_ >= 0 && token >= visionStart_ && token < visionStart_ + visionTokens_;
            if (!vision)
                labels[std::size_t(x)] = axisLabel(tokens_[std::size_t(token)]);
        }
    }
    const bool named = !labels.empty();
    static_cast<TokenTicker*>(plot->xAxis->ticker().data())->setLabels(std::move(labels));
    plot->xAxis->setLabel(ratio     ? tr("key tokens in order of their saliency s (lowest left)")
                          : sorted_ ? tr("key token, ranked by saliency (0 = most salient)")
                          : named   ? tr("key token (text tokens named where they fit)")
                                    : tr("key token"));
    updateVisionBand();
    updateTargetMarks();
    const QString head =
        headSteered_ ? tr("head %1").arg(head_) : tr("head %1 (unsteered)").arg(head_);
    QString row = tr("%1, query %2").arg(head, QString::number(query_));
    if (layersAveraged_ > 1)
        row = tr("%1, query %2, mean of %3 layers").arg(head).arg(query_).arg(layersAveraged_);
    else if (layer_ >= 0)
        row = tr("Layer %1, %2, query %3").arg(layer_).arg(head).arg(query_);
    if (seed_ >= 0)
        row += tr(", seed %1").arg(seed_);
    row[0] = row[0].toUpper();
    setTitle(!keys   ? tr("Per-token attention (no data)")
             : ratio ? tr("%1: how steering rescales each key's attention, A′ / A").arg(row)
                     : tr("%1: attention over %2 key tokens").arg(row).arg(keys));
    // The ranges follow the data unless the user zoomed or panned into this same row length.
    if (!keepRanges || !userZoomed_)
        resetView();
    updateHighlight();
    scheduleReplot();
}

void PerTokenPlot::showSteered() {
    QCustomPlot* plot = customPlot();
    const bool ratio = mode_ == PerTokenMode::RatioBySaliency;
    if (ratio) {
        std::vector<int> keyOrder(steered_.size());
        std::iota(keyOrder.begin(), keyOrder.end(), 0);
        setGraphData(plot->graph(SteeredGraph), steered_, keyOrder);
        setRatioData();
    } else {
        setGraphData(plot->graph(SteeredGraph), steered_, rank_);
    }
    nameSteered();
    const QCPRange shown = plot->yAxis->range(), ideal = valueRange(0.0);
    if (ratio && ratioNeedsLog() != (plot->yAxis->scaleType() == QCPAxis::stLogarithmic)) {
        resetView();
        scheduleReplot();
        return;
    }
    // The range stays while it holds the values and they fill most of it: no axis moves, one
    // layer is drawn (once the plot has been drawn whole: the layer needs its buffer).
    const bool keep = layersReady() &&
                      (userZoomed_ || (ideal.lower >= shown.lower && ideal.upper <= shown.upper &&
                                       ideal.size() >= 0.6 * shown.size()));
    if (!keep) {
        plot->yAxis->setRange(valueRange());
        scheduleReplot();
        return;
    }
    updateHighlight();
    plot->layer(kLiveLayer)->replot();
    if (highlightTracer_->visible())
        plot->layer(QStringLiteral("overlay"))->replot();
    emit layerRedrawn();
}

void PerTokenPlot::nameSteered() {
    customPlot()
        ->graph(SteeredGraph)
        ->setName(headSteered_ ? tr("A′ (steered, λ = %1)").arg(lambda_, 0, 'f', 3)
                               : tr("A′ = A (head not steered)"));
    customPlot()
        ->graph(RatioGraph)
        ->setName(headSteered_ ? tr("A′ / A at λ = %1 (1: unchanged)").arg(lambda_, 0, 'f', 3)
                               : tr("A′ / A = 1 (head not steered)"));
}

void PerTokenPlot::setRatioData() {
    // A'/A of each key, in the order of s; keys without attention (masked, A = 0) have none.
    QVector<QCPGraphData> points;
    points.reserve(qsizetype(attention_.size()));
    if (steered_.size() == attention_.size())
        for (std::size_t k = 0; k < attention_.size(); ++k)
            if (attention_[k] > 0 && k < rank_.size())
                points.append(QCPGraphData(double(rank_[k]), steered_[k] / attention_[k]));
    std::sort(points.begin(), points.end(),
              [](const QCPGraphData& a, const QCPGraphData& b) { return a.key < b.key; });
    customPlot()->graph(RatioGraph)->data()->set(points, true);
}

bool PerTokenPlot::ratioNeedsLog() const {
    bool found = false;
    const QCPRange range = customPlot()->graph(RatioGraph)->getValueRange(found);
    return found && range.lower > 0 && range.upper / range.lower > 20;
}

void PerTokenPlot::showMode() {
    QCustomPlot* plot = customPlot();
    const bool ratio = mode_ == PerTokenMode::RatioBySaliency;
    plot->graph(AttentionGraph)->setVisible(!ratio);
    plot->graph(SteeredGraph)->setVisible(!ratio);
    plot->graph(RatioGraph)->setVisible(ratio);
    unchangedLine_->setVisible(ratio);
    // The legend names what is drawn.
    for (QCPGraph* graph : {plot->graph(AttentionGraph), plot->graph(SteeredGraph)})
        if (ratio)
            graph->removeFromLegend();
        else if (!plot->legend->hasItemWithPlottable(graph))
            graph->addToLegend();
    if (ratio && !plot->legend->hasItemWithPlottable(plot->graph(RatioGraph)))
        plot->graph(RatioGraph)->addToLegend();
    else if (!ratio)
        plot->graph(RatioGraph)->removeFromLegend();
    for (int i = 0; i < plot->legend->itemCount(); ++i)
        if (QCPAbstractLegendItem* item = plot->legend->item(i))
            item->setLayer(kLiveLayer), styleLegendItem(item);
    plot->yAxis->setLabel(ratio ? tr("A′ / A") : tr("attention"));
}

void PerTokenPlot::setMode(PerTokenMode mode) {
    if (mode == mode_)
        return;
    mode_ = mode;
    rebuild(false);
}

QCPRange PerTokenPlot::valueRange(double marginShare) const {
    const QCustomPlot* plot = customPlot();
    if (mode_ == PerTokenMode::RatioBySaliency) {
        // The change around 1 (unchanged), 1 always in view.
        bool found = false;
        QCPRange range = plot->graph(RatioGraph)->getValueRange(found);
        if (!found)
            return QCPRange(0.5, 2);
        range.expand(1.0);
        if (ratioNeedsLog())
            return marginShare > 0 ? QCPRange(range.lower / 1.5, range.upper * 1.5) : range;
        const double margin = marginShare * std::max(range.size(), 1e-6);
        return QCPRange(range.lower - margin, range.upper + margin);
    }
    bool found = false;
    QCPRange range = plot->graph(AttentionGraph)->getValueRange(found);
    bool foundSteered = false;
    const QCPRange steered = plot->graph(SteeredGraph)->getValueRange(foundSteered);
    if (foundSteered)
        range = found ? QCPRange(std::min(range.lower, steered.lower),
                                 std::max(range.upper, steered.upper))
                      : steered;
    if (!found && !foundSteered)
        return QCPRange(0, 1);
    const double margin =
        marginShare > 0 ? std::max(range.size() * marginShare, std::abs(range.upper) * 1e-3) : 0;
    return QCPRange(range.lower - margin, range.upper + margin);
}

void PerTokenPlot::resetView() {
    QCustomPlot* plot = customPlot();
    userZoomed_ = false;
    const int keys = tokenCount();
    plot->xAxis->setRange(-0.5, std::max(keys, 1) - 0.5);
    const bool logarithmic = mode_ == PerTokenMode::RatioBySaliency && ratioNeedsLog();
    plot->yAxis->setScaleType(logarithmic ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
    plot->yAxis->setTicker(logarithmic ? QSharedPointer<QCPAxisTicker>(new QCPAxisTickerLog)
                                       : QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
    plot->yAxis->setRange(valueRange());
    bool foundS = false;
    const QCPRange s = plot->graph(SaliencyGraph)->getValueRange(foundS);
    QCPAxis* sValues = saliencyRect_->axis(QCPAxis::atLeft);
    if (foundS && s.size() > 0)
        sValues->setRange(std::min(0.0, s.lower), s.upper + 0.08 * s.size());
    else if (foundS)
        sValues->setRange(std::min(0.0, s.lower), std::max(0.0, s.upper) + 1.0);
    else
        sValues->setRange(0, 1);
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
    QString values = tr("A=%1").arg(number(attention_[k]));
    if (!steered_.empty())
        values += tr(", A′=%1").arg(number(steered_[k]));
    if (!steered_.empty() && attention_[k] > 0 && mode_ == PerTokenMode::RatioBySaliency)
        values += tr(", A′/A=%1").arg(number(steered_[k] / attention_[k]));
    if (!saliency_.empty())
        values += tr(", s=%1").arg(number(saliency_[k]));
    const bool target = k < target_.size() && target_[k] && target_.size() == attention_.size();
    if (tokens_.empty() && visionStart_ < 0)
        return (target ? tr("token %1 (target): %2") : tr("token %1: %2")).arg(token).arg(values);
    QString label = keyLabel(token, tokens_, visionStart_, visionTokens_, gridHeight_, gridWidth_);
    if (target)
        label += tr(" · target");
    return label + QLatin1Char('\n') + values;
}

void PerTokenPlot::updateVisionBand() {
    const int keys = tokenCount();
    const int first = std::max(visionStart_, 0);
    const int last = std::min(visionStart_ + visionTokens_, keys) - 1;
    const bool shown = visionStart_ >= 0 && visionTokens_ > 0 && last >= first && !sorted_ &&
                       mode_ == PerTokenMode::Values;
    visionBand_->setVisible(shown);
    visionLabel_->setVisible(shown);
    if (!shown)
        return;
    visionBand_->topLeft->setCoords(first - 0.5, 0);
    visionBand_->bottomRight->setCoords(last + 0.5, 1);
    visionLabel_->position->setCoords((first + last) / 2.0, 0.02);
    visionLabel_->setText(tr("image (keys %1–%2)").arg(first).arg(last));
}

void PerTokenPlot::updateTargetMarks() {
    std::vector<QPair<int, int>> runs;
    if (!target_.empty() && target_.size() == attention_.size())
        runs = targetRuns(target_, order_);
    const auto count = std::count_if(target_.begin(), target_.end(), [](auto v) { return v != 0; });
    targetMarks_->show(runs, tr("target (%1 tokens)").arg(count));
}

std::vector<int> PerTokenPlot::markedTargetTokens() const {
    std::vector<int> tokens;
    for (const QPair<int, int>& run : targetMarks_->runs())
        for (int x = run.first; x <= run.second; ++x)
            tokens.push_back(order_[std::size_t(x)]);
    std::sort(tokens.begin(), tokens.end());
    return tokens;
}

QPair<int, int> PerTokenPlot::visionBand() const {
    if (!visionBand_->visible())
        return {-1, -1};
    return {int(std::lround(visionBand_->topLeft->coords().x() + 0.5)),
            int(std::lround(visionBand_->bottomRight->coords().x() - 0.5))};
}

QVector<QPair<double, QString>> PerTokenPlot::tickLabels() const {
    QVector<QPair<double, QString>> labels;
    const QCPAxis* axis = customPlot()->xAxis;
    const QVector<double> ticks = axis->tickVector();
    const QVector<QString> texts = axis->tickVectorLabels();
    for (qsizetype i = 0; i < ticks.size() && i < texts.size(); ++i)
        labels.push_back({ticks[i], texts[i]});
    return labels;
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
    const bool visible = highlighted_ >= 0 && highlighted_ < tokenCount() && style().overlays;
    highlightLine_->setVisible(visible);
    const bool onCurve = visible && !steered_.empty();
    highlightTracer_->setVisible(onCurve);
    highlightLabel_->setVisible(onCurve);
    highlightTracer_->setGraph(onCurve ? customPlot()->graph(mode_ == PerTokenMode::RatioBySaliency
                                                                 ? RatioGraph
                                                                 : SteeredGraph)
                                       : nullptr);
    if (!visible)
        return;
    const double x = tokenX(highlighted_);
    highlightLine_->point1->setCoords(x, 0);
    highlightLine_->point2->setCoords(x, 1);
    highlightTracer_->setGraphKey(x);
    highlightLabel_->setText(tokens_.empty() && visionStart_ < 0
                                 ? tr("token %1").arg(highlighted_)
                                 : keyLabel(highlighted_, tokens_, visionStart_, visionTokens_,
                                            gridHeight_, gridWidth_));
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
