#include "plot_view.h"

#include "atomic_file.h"

#include <qcustomplot.h>

#include <QBuffer>
#include <QDir>
#include <QFileInfo>
#include <QImage>
#include <QMenu>
#include <QPdfWriter>
#include <QSvgGenerator>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

namespace attnsteer {

QCPColorGradient colorGradient(std::initializer_list<std::pair<double, QColor>> stops) {
    QCPColorGradient gradient;
    gradient.clearColorStops();
    for (const auto& [position, colour] : stops)
        gradient.setColorStopAt(position, colour);
    return gradient;
}

namespace {

constexpr int kTitleMargin = 6;      ///< layout units left and right of the title
constexpr int kMaxTicksPerAxis = 6;  ///< tick labels an axis gets at most
constexpr int kTickLabelGapPx = 6;   ///< between two tick labels of a horizontal axis
constexpr int kTickLayoutPasses = 4; ///< layouts tried to fit the tick labels

/// A font of PIXELS layout units: in a figure one unit is one point.
QFont figureFont(int pixels, bool bold = false) {
    QFont font;
    font.setPixelSize(pixels);
    font.setBold(bold);
    return font;
}

/// PEN with width WIDTH (its colour and style kept).
QPen widened(QPen pen, double width) {
    pen.setWidthF(width);
    return pen;
}

/// Whether the tick labels of AXIS overlap (after a layout pass).
bool tickLabelsCollide(const QCPAxis* axis) {
    const QVector<double> ticks = axis->tickVector();
    const QVector<QString> labels = axis->tickVectorLabels();
    if (ticks.size() < 2 || labels.size() != ticks.size() || !axis->tickLabels())
        return false;
    const QFontMetrics metrics(axis->tickLabelFont());
    const bool horizontal = axis->orientation() == Qt::Horizontal;
    for (qsizetype i = 1; i < ticks.size(); ++i) {
        const double distance =
            std::abs(axis->coordToPixel(ticks[i]) - axis->coordToPixel(ticks[i - 1]));
        const double needed = horizontal ? (metrics.horizontalAdvance(labels[i]) +
                                            metrics.horizontalAdvance(labels[i - 1])) /
                                                   2.0 +
                                               kTickLabelGapPx
                                         : metrics.height() + 2.0;
        if (distance < needed)
            return true;
    }
    return false;
}

/// Every axis of PLOT: those of its axis rects and of its colour scales.
QList<QCPAxis*> allAxes(QCustomPlot* plot) {
    QList<QCPAxis*> axes;
    for (QCPAxisRect* rect : plot->axisRects())
        axes += rect->axes();
    for (QCPLayoutElement* element : plot->plotLayout()->elements(true))
        if (auto* scale = qobject_cast<QCPColorScale*>(element))
            axes << scale->axis();
    return axes;
}

} // namespace

PlotStyle PlotStyle::screen() {
    PlotStyle style;
    style.tick.setPointSizeF(9);
    style.label.setPointSizeF(10);
    style.title.setPointSizeF(10);
    style.title.setBold(true);
    return style;
}

PlotStyle PlotStyle::forFigure(bool overlays) {
    PlotStyle style;
    style.tick = figureFont(7);
    style.label = figureFont(8);
    style.title = figureFont(8, true);
    style.line = 0.8;
    style.thin = 0.5;
    style.symbol = 0.7;
    style.overlays = overlays;
    style.figure = true;
    return style;
}

PlotView::PlotView(QWidget* parent)
    : QWidget(parent), plot_(new QCustomPlot(this)), style_(PlotStyle::screen()) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(plot_);
    plot_->setMouseTracking(true);
    plot_->setMinimumSize(150, 120);
    plot_->setAntialiasedElements(QCP::aeAll);
    plot_->setNotAntialiasedElements(QCP::aeNone);
    plot_->setNoAntialiasingOnDrag(true);

    plot_->plotLayout()->insertRow(0);
    title_ = new QCPTextElement(plot_, QString(), style_.title);
    // Not clipped to the box its font's metrics give (see applyStyle).
    title_->setTextFlags(Qt::AlignCenter | Qt::TextWordWrap | Qt::TextDontClip);
    plot_->plotLayout()->addElement(0, 0, title_);
    plot_->plotLayout()->setRowSpacing(0);

    plot_->setContextMenuPolicy(Qt::CustomContextMenu);
    connect(plot_, &QWidget::customContextMenuRequested, this, [this](const QPoint& pos) {
        QMenu menu(this);
        menu.addAction(tr("Export view as PNG/PDF/SVG..."), this, &PlotView::exportRequested);
        menu.addAction(tr("Reset zoom"), this, [this] {
            resetView();
            plot_->replot();
        });
        menu.exec(plot_->mapToGlobal(pos));
    });
    connect(plot_, &QCustomPlot::mouseDoubleClick, this, [this](QMouseEvent*) {
        resetView();
        plot_->replot();
    });
    plot_->installEventFilter(this);
    connect(plot_, &QCustomPlot::afterReplot, this, [this] { replotted_ = true; });
    // New data may widen tick labels or a colour scale: a layout that no longer fits is fixed
    // by one more replot (fewer ticks, the title fitted to its cell).
    connect(plot_, &QCustomPlot::afterLayout, this, [this] {
        if (refitLayout())
            scheduleReplot();
    });
}

PlotView::~PlotView() = default;

bool PlotView::eventFilter(QObject* watched, QEvent* event) {
    if (watched == plot_ && event->type() == QEvent::Resize) {
        // QCustomPlot's own resizeEvent follows and replots; fit the ranges, the ticks and the
        // title to the new size first.
        pictureScale_ = plot_->devicePixelRatioF();
        layOut(static_cast<QResizeEvent*>(event)->size());
    }
    if (watched == plot_ && event->type() == QEvent::Leave)
        pointerLeft();
    return QWidget::eventFilter(watched, event);
}

void PlotView::fitToSize(QSize) {}

void PlotView::pointerLeft() {}

void PlotView::styleChanged(const PlotStyle&) {}

void PlotView::layOut(QSize size) {
    plot_->setViewport(QRect(QPoint(0, 0), size));
    fitToSize(size);
    title_->setText(fitText(titleText_, title_->font(), size.width() - 2 * kTitleMargin));
    // Tick labels that do not run into each other: start from what the axes' lengths allow,
    // then fewer ticks on an axis whose labels still collide.
    QCPLayoutGrid* layout = plot_->plotLayout();
    const auto update = [layout] {
        layout->update(QCPLayoutElement::upPreparation);
        layout->update(QCPLayoutElement::upMargins);
        layout->update(QCPLayoutElement::upLayout);
    };
    update();
    const QList<QCPAxis*> axes = allAxes(plot_);
    for (QCPAxis* axis : axes) {
        const QFontMetrics metrics(axis->tickLabelFont());
        const bool horizontal = axis->orientation() == Qt::Horizontal;
        const double length = horizontal ? axis->axisRect()->width() : axis->axisRect()->height();
        const double per =
            horizontal ? metrics.horizontalAdvance(QStringLiteral("0.0000")) + kTickLabelGapPx
                       : 2.5 * metrics.height();
        axis->ticker()->setTickCount(std::clamp(int(length / per), 2, kMaxTicksPerAxis));
    }
    for (int pass = 0; pass < kTickLayoutPasses; ++pass) {
        update();
        if (!refitLayout())
            break;
    }
}

bool PlotView::refitLayout() {
    // The title's cell may be narrower than the plot (a colour scale beside the axis rect).
    const QString fitted = fitText(titleText_, title_->font(), titleWidth());
    bool changed = fitted != title_->text();
    title_->setText(fitted);
    for (QCPAxis* axis : allAxes(plot_))
        if (axis->visible() && tickLabelsCollide(axis) && axis->ticker()->tickCount() > 2) {
            axis->ticker()->setTickCount(axis->ticker()->tickCount() - 1);
            changed = true;
        }
    return changed;
}

QString PlotView::fitText(const QString& text, const QFont& font, int width) {
    const QFontMetrics metrics(font);
    width = std::max(width, 1);
    if (text.contains(QLatin1Char('\n'))) {
        QStringList lines = text.split(QLatin1Char('\n'));
        for (QString& line : lines)
            line = metrics.elidedText(line, Qt::ElideRight, width);
        return lines.join(QLatin1Char('\n'));
    }
    if (metrics.horizontalAdvance(text) <= width)
        return text;
    // Two lines, broken after the ", " or ": " that balances them best.
    qsizetype best = -1;
    double bestWidth = 0;
    for (const QString& separator : {QStringLiteral(", "), QStringLiteral(": ")})
        for (qsizetype at = text.indexOf(separator); at >= 0;
             at = text.indexOf(separator, at + 1)) {
            const double longer = std::max(metrics.horizontalAdvance(text.left(at + 1)),
                                           metrics.horizontalAdvance(text.mid(at + 2)));
            if (best < 0 || longer < bestWidth)
                best = at, bestWidth = longer;
        }
    if (best < 0)
        return metrics.elidedText(text, Qt::ElideRight, width);
    return metrics.elidedText(text.left(best + 1), Qt::ElideRight, width) + QLatin1Char('\n') +
           metrics.elidedText(text.mid(best + 2), Qt::ElideRight, width);
}

void PlotView::applyStyle(const PlotStyle& style) {
    style_ = style;
    title_->setFont(style.title);
    // A figure's glyphs reach lower than the metrics its layout takes (its title lost the foot of
    // its "g" at the edge): room below there; the screen's layout stays as it is.
    title_->setMargins(QMargins(kTitleMargin, 4, kTitleMargin, style.figure ? 2 : 0));
    for (QCPAxis* axis : allAxes(plot_)) {
        axis->setLabelFont(style.label);
        axis->setTickLabelFont(style.tick);
        axis->setBasePen(widened(axis->basePen(), style.thin));
        axis->setTickPen(widened(axis->tickPen(), style.thin));
        axis->setSubTickPen(widened(axis->subTickPen(), style.thin));
        axis->grid()->setPen(widened(axis->grid()->pen(), style.thin));
    }
    for (QCPLayoutElement* element : plot_->plotLayout()->elements(true))
        if (auto* scale = qobject_cast<QCPColorScale*>(element))
            scale->setBarWidth(int(std::lround(12 * style.symbol)));
    // Legends (in the layout or in an axis rect's inset layout) take the tick font.
    for (QCPLayoutElement* element : plot_->plotLayout()->elements(true))
        if (auto* legend = qobject_cast<QCPLegend*>(element)) {
            legend->setFont(style.tick);
            legend->setIconSize(int(std::lround(26 * style.symbol)),
                                int(std::lround(12 * style.symbol)));
            legend->setIconTextPadding(int(std::lround(6 * style.symbol)));
            legend->setColumnSpacing(int(std::lround(12 * style.symbol)));
            legend->setRowSpacing(0);
            legend->setBorderPen(widened(legend->borderPen(), style.thin));
            for (int i = 0; i < legend->itemCount(); ++i)
                styleLegendItem(legend->item(i));
        }
    styleChanged(style);
}

void PlotView::scheduleReplot() {
    plot_->replot(QCustomPlot::rpQueuedReplot);
}

void PlotView::replotNow() {
    plot_->replot();
}

namespace {

/// The first colour scale of PLOT, or null.
QCPColorScale* colorScaleOf(const QCustomPlot* plot) {
    for (QCPLayoutElement* element : plot->plotLayout()->elements(true))
        if (auto* scale = qobject_cast<QCPColorScale*>(element))
            return scale;
    return nullptr;
}

} // namespace

double PlotView::colorLower() const {
    const QCPColorScale* scale = colorScaleOf(plot_);
    return scale ? scale->dataRange().lower : 0.0;
}

double PlotView::colorUpper() const {
    const QCPColorScale* scale = colorScaleOf(plot_);
    return scale ? scale->dataRange().upper : 0.0;
}

QString PlotView::colorLabel() const {
    const QCPColorScale* scale = colorScaleOf(plot_);
    return scale ? scale->axis()->label() : QString();
}

QString PlotView::title() const {
    return titleText_;
}

QString PlotView::shownTitle() const {
    return title_->text();
}

void PlotView::setTitle(const QString& title) {
    titleText_ = title;
    title_->setText(fitText(title, title_->font(), titleWidth()));
}

int PlotView::titleWidth() const {
    // The title's cell from the last layout, else the whole width.
    const int cell = title_->outerRect().width();
    const int width = cell > 2 * kTitleMargin ? cell : plot_->viewport().width();
    return width - 2 * kTitleMargin;
}

QFont PlotView::tickFont() {
    return PlotStyle::screen().tick;
}

QFont PlotView::labelFont() {
    return PlotStyle::screen().label;
}

void PlotView::styleLegendItem(QCPAbstractLegendItem* item) const {
    if (!item)
        return;
    item->setFont(style_.tick);
    item->setMargins(QMargins(0, 0, 0, style_.figure ? 2 : 0)); // QCP's are 0; see applyStyle
}

void PlotView::styleHeatMapAxes(const QString& xLabel, const QString& yLabel) {
    styleAxis(plot_->xAxis, xLabel);
    styleAxis(plot_->yAxis, yLabel);
    plot_->xAxis->grid()->setVisible(false);
    plot_->yAxis->grid()->setVisible(false);
    plot_->yAxis->setRangeReversed(true);
    for (QCPAxis* axis : {plot_->xAxis, plot_->yAxis}) {
        axis->setTickLength(0, 4);
        axis->setSubTickLength(0, 2);
    }
}

void PlotView::styleAxis(QCPAxis* axis, const QString& label) {
    axis->setLabel(label);
    axis->setLabelFont(labelFont());
    axis->setTickLabelFont(tickFont());
    axis->setLabelPadding(4);
    axis->grid()->setPen(QPen(QColor(0, 0, 0, 28), 1, Qt::SolidLine));
    axis->grid()->setZeroLinePen(Qt::NoPen);
}

void PlotView::onLeftClick(std::function<void(QPoint)> onClick) {
    constexpr int kClickTolerance = 4; ///< pixels the mouse may move between press and release
    connect(plot_, &QCustomPlot::mousePress, this, [this](QMouseEvent* event) {
        pressPosition_ =
            event->button() == Qt::LeftButton ? event->position().toPoint() : QPoint(-1, -1);
    });
    connect(plot_, &QCustomPlot::mouseRelease, this,
            [this, onClick = std::move(onClick)](QMouseEvent* event) {
                const QPoint release = event->position().toPoint();
                const bool click = event->button() == Qt::LeftButton && pressPosition_.x() >= 0 &&
                                   (release - pressPosition_).manhattanLength() <= kClickTolerance;
                pressPosition_ = QPoint(-1, -1);
                if (click)
                    onClick(release);
            });
}

void PlotView::drawInto(QCPPainter* painter, QSize size) {
    plot_->toPainter(painter, size.width(), size.height());
}

bool PlotView::figureBytes(const FigureSpec& spec, QByteArray* bytes, QString* error) {
    bytes->clear();
    const QString problem = figureSpecProblem(spec);
    if (!problem.isEmpty()) {
        if (error)
            *error = problem;
        return false;
    }
    const QSize layoutSize = spec.points();
    const PlotStyle screenStyle = style_;
    pictureScale_ = spec.format == FigureFormat::Png ? spec.dpi / 72.0 : 0.0;
    applyStyle(PlotStyle::forFigure(spec.overlays));
    layOut(layoutSize);
    plot_->replot(QCustomPlot::rpImmediateRefresh); // the layout at the figure's size

    QBuffer buffer(bytes);
    buffer.open(QIODevice::WriteOnly);
    bool ok = false;
    switch (spec.format) {
    case FigureFormat::Png: {
        const QSize pixels = spec.pixels();
        QImage image(pixels, QImage::Format_ARGB32_Premultiplied);
        if (image.isNull())
            break;
        image.fill(Qt::white);
        const int dotsPerMeter = int(std::lround(spec.dpi / 0.0254));
        image.setDotsPerMeterX(dotsPerMeter);
        image.setDotsPerMeterY(dotsPerMeter);
        QCPPainter painter(&image);
        if (!painter.isActive())
            break;
        painter.setMode(QCPPainter::pmNonCosmetic);
        painter.scale(double(pixels.width()) / layoutSize.width(),
                      double(pixels.height()) / layoutSize.height());
        drawInto(&painter, layoutSize);
        painter.end();
        ok = image.save(&buffer, "PNG");
        break;
    }
    case FigureFormat::Pdf: {
        QPdfWriter writer(&buffer);
        writer.setCreator(QStringLiteral("AttnSteer"));
        writer.setTitle(titleText_);
        writer.setPageLayout(QPageLayout(QPageSize(spec.inches, QPageSize::Inch),
                                         QPageLayout::Portrait, QMarginsF(0, 0, 0, 0)));
        QCPPainter painter(&writer);
        if (!painter.isActive())
            break;
        painter.setMode(QCPPainter::pmVectorized);
        painter.setMode(QCPPainter::pmNonCosmetic);
        painter.setWindow(QRect(QPoint(0, 0), layoutSize));
        drawInto(&painter, layoutSize);
        ok = painter.end();
        break;
    }
    case FigureFormat::Svg: {
        QSvgGenerator generator;
        generator.setOutputDevice(&buffer);
        generator.setSize(layoutSize);
        generator.setViewBox(QRect(QPoint(0, 0), layoutSize));
        generator.setResolution(72); // one layout unit = one point
        generator.setTitle(titleText_);
        generator.setDescription(QStringLiteral("AttnSteer"));
        QCPPainter painter(&generator);
        if (!painter.isActive())
            break;
        painter.setMode(QCPPainter::pmVectorized);
        painter.setMode(QCPPainter::pmNonCosmetic);
        drawInto(&painter, layoutSize);
        ok = painter.end();
        break;
    }
    }
    buffer.close();

    // Back to the screen.
    pictureScale_ = plot_->devicePixelRatioF();
    applyStyle(screenStyle);
    layOut(plot_->size());
    plot_->replot(QCustomPlot::rpQueuedRefresh);
    if (!ok || bytes->isEmpty()) {
        if (error)
            *error = tr("cannot draw the picture");
        return false;
    }
    return true;
}

bool PlotView::saveFigure(const QString& path, const FigureSpec& spec, bool overwrite,
                          QString* error) {
    // Drawn in memory, then written by the checked writer: a full disk is an error, never a
    // truncated picture.
    QByteArray bytes;
    QString problem;
    if (!figureBytes(spec, &bytes, &problem)) {
        if (error)
            *error = QDir::toNativeSeparators(path) + QStringLiteral(": ") + problem;
        return false;
    }
    problem = writeFileAtomically(path, bytes, overwrite);
    if (error)
        *error = problem;
    return problem.isEmpty();
}

namespace {

/// The figure of a picture WIDTH x HEIGHT pixels at 96 dpi times SCALE (the older pixel API).
FigureSpec pixelFigure(int width, int height, double scale) {
    FigureSpec spec;
    spec.format = FigureFormat::Png;
    spec.inches = QSizeF(width / 96.0, height / 96.0);
    spec.dpi = 96.0 * scale;
    return spec;
}

} // namespace

bool PlotView::pngBytes(int width, int height, double scale, QByteArray* bytes) {
    if (width <= 0 || height <= 0)
        width = plot_->width(), height = plot_->height();
    return figureBytes(pixelFigure(width, height, scale), bytes);
}

bool PlotView::savePng(const QString& path, int width, int height, double scale, bool overwrite,
                       QString* error) {
    if (width <= 0 || height <= 0)
        width = plot_->width(), height = plot_->height();
    if (!(scale > 0) || width * scale > 20000 || height * scale > 20000) {
        if (error)
            *error = QDir::toNativeSeparators(path) + tr(": size must be 1 to 20000 pixels");
        return false;
    }
    return saveFigure(path, pixelFigure(width, height, scale), overwrite, error);
}

bool PlotView::savePdf(const QString& path, int width, int height, bool overwrite, QString* error) {
    if (width <= 0 || height <= 0)
        width = plot_->width(), height = plot_->height();
    FigureSpec spec;
    spec.format = FigureFormat::Pdf;
    spec.inches = QSizeF(width / 72.0, height / 72.0);
    return saveFigure(path, spec, overwrite, error);
}

} // namespace attnsteer
