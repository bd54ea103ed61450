#include "plot_view.h"

#include "atomic_file.h"

#include <qcustomplot.h>

#include <QBuffer>
#include <QDir>
#include <QFileInfo>
#include <QMenu>
#include <QPixmap>
#include <QVBoxLayout>

#include <system_error>

namespace attnsteer {

PlotView::PlotView(QWidget* parent) : QWidget(parent), plot_(new QCustomPlot(this)) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(plot_);
    plot_->setMouseTracking(true);
    plot_->setMinimumSize(240, 180);
    plot_->setAntialiasedElements(QCP::aeAll);
    plot_->setNotAntialiasedElements(QCP::aeNone);
    plot_->setNoAntialiasingOnDrag(true);

    plot_->plotLayout()->insertRow(0);
    QFont titleFont = labelFont();
    titleFont.setBold(true);
    title_ = new QCPTextElement(plot_, QString(), titleFont);
    title_->setMargins(QMargins(6, 4, 6, 0));
    plot_->plotLayout()->addElement(0, 0, title_);
    plot_->plotLayout()->setRowSpacing(0);

    plot_->setContextMenuPolicy(Qt::CustomContextMenu);
    connect(plot_, &QWidget::customContextMenuRequested, this, [this](const QPoint& pos) {
        QMenu menu(this);
        menu.addAction(tr("Export view as PNG/PDF..."), this, &PlotView::exportRequested);
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
}

PlotView::~PlotView() = default;

bool PlotView::eventFilter(QObject* watched, QEvent* event) {
    if (watched == plot_ && event->type() == QEvent::Resize) {
        // QCustomPlot's own resizeEvent follows and replots; fit the ranges to the new size first.
        const QSize size = static_cast<QResizeEvent*>(event)->size();
        plot_->setViewport(QRect(QPoint(0, 0), size));
        fitToSize(size);
    }
    return QWidget::eventFilter(watched, event);
}

void PlotView::fitToSize(QSize) {}

void PlotView::scheduleReplot() {
    plot_->replot(QCustomPlot::rpQueuedReplot);
}

void PlotView::replotNow() {
    plot_->replot();
}

QString PlotView::title() const {
    return title_->text();
}

void PlotView::setTitle(const QString& title) {
    title_->setText(title);
}

QFont PlotView::tickFont() {
    QFont font;
    font.setPointSizeF(9);
    return font;
}

QFont PlotView::labelFont() {
    QFont font;
    font.setPointSizeF(10);
    return font;
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

void PlotView::prepareForPicture(QSize size) {
    plot_->setViewport(QRect(QPoint(0, 0), size));
    fitToSize(size);
    plot_->replot(QCustomPlot::rpImmediateRefresh);
}

void PlotView::restoreAfterPicture() {
    plot_->setViewport(plot_->rect());
    fitToSize(plot_->size());
    plot_->replot(QCustomPlot::rpQueuedRefresh);
}

bool PlotView::writeAtomically(const QString& path, bool overwrite, QString* error,
                               const std::function<bool(const QString&)>& draw) {
    const QString problem =
        writeFileAtomically(path, overwrite, [&](const QString& temporary) -> QString {
            return draw(temporary) ? QString() : tr("cannot draw or write the picture");
        });
    if (error)
        *error = problem;
    return problem.isEmpty();
}

bool PlotView::pngBytes(int width, int height, double scale, QByteArray* bytes) {
    prepareForPicture(QSize(width, height));
    const QPixmap picture = plot_->toPixmap(width, height, scale);
    restoreAfterPicture();
    bytes->clear();
    QBuffer buffer(bytes);
    return !picture.isNull() && buffer.open(QIODevice::WriteOnly) && picture.save(&buffer, "PNG") &&
           !bytes->isEmpty();
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
    // Drawn in memory, then written by the checked writer: a full disk is an error, never a
    // truncated picture.
    QByteArray bytes;
    if (!pngBytes(width, height, scale, &bytes)) {
        if (error)
            *error = QDir::toNativeSeparators(path) + QStringLiteral(": ") +
                     tr("cannot draw the picture");
        return false;
    }
    const QString problem = writeFileAtomically(path, bytes, overwrite);
    if (error)
        *error = problem;
    return problem.isEmpty();
}

bool PlotView::savePdf(const QString& path, int width, int height, bool overwrite, QString* error) {
    if (width <= 0 || height <= 0)
        width = plot_->width(), height = plot_->height();
    return writeAtomically(path, overwrite, error, [&](const QString& temporary) {
        prepareForPicture(QSize(width, height));
        const bool ok = plot_->savePdf(temporary, width, height, QCP::epNoCosmetic,
                                       QStringLiteral("AttnSteer"), title_->text());
        restoreAfterPicture();
        return ok;
    });
}

} // namespace attnsteer
