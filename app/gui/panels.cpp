#include "panels.h"

#include "saliency_grid_plot.h"

#include <qcustomplot.h>

#include <QHBoxLayout>
#include <QLabel>
#include <QToolButton>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

namespace attnsteer {

// ---------------------------------------------------------------------------------------------
// CollapsibleSection

CollapsibleSection::CollapsibleSection(const QString& title, QWidget* content, QWidget* parent)
    : QWidget(parent), title_(title), content_(content) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(2);
    toggle_ = new QToolButton;
    toggle_->setObjectName(QStringLiteral("sectionToggle"));
    toggle_->setCheckable(true);
    toggle_->setAutoRaise(true);
    toggle_->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
    toggle_->setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
    // The folded summary is cut where the dock ends; it does not widen the dock.
    toggle_->setMinimumWidth(80);
    toggle_->setStyleSheet(QStringLiteral("QToolButton { border: none; text-align: left; }"));
    layout->addWidget(toggle_);
    layout->addWidget(content_);
    connect(toggle_, &QToolButton::toggled, this, [this](bool expanded) {
        content_->setVisible(expanded);
        updateHeader();
        emit expandedChanged(expanded);
    });
    content_->setVisible(false);
    updateHeader();
}

bool CollapsibleSection::isExpanded() const {
    return toggle_->isChecked();
}

void CollapsibleSection::setExpanded(bool expanded) {
    toggle_->setChecked(expanded);
}

void CollapsibleSection::setSummary(const QString& summary) {
    summary_ = summary;
    updateHeader();
}

void CollapsibleSection::updateHeader() {
    const bool expanded = toggle_->isChecked();
    toggle_->setArrowType(expanded ? Qt::DownArrow : Qt::RightArrow);
    toggle_->setText(expanded || summary_.isEmpty() ? title_
                                                    : title_ + QStringLiteral(":  ") + summary_);
}

// ---------------------------------------------------------------------------------------------
// SaliencyPanel

namespace {
constexpr int kSpacing = 2;
constexpr int kMinPlotHeight = 160;
} // namespace

SaliencyPanel::SaliencyPanel(SaliencyGridPlot* grid, QLabel* caption, QWidget* controls,
                             QWidget* parent)
    : QWidget(parent), grid_(grid), caption_(caption), controls_(controls) {
    for (QWidget* child :
         {static_cast<QWidget*>(grid_), static_cast<QWidget*>(caption_), controls_})
        child->setParent(this);
    // The plot's white around the centred group, so that the panel reads as one view.
    QPalette palette = this->palette();
    palette.setColor(QPalette::Window, Qt::white); // QCustomPlot's default background
    setPalette(palette);
    setAutoFillBackground(true);
}

QSize SaliencyPanel::sizeHint() const {
    return {400, 400};
}

QSize SaliencyPanel::minimumSizeHint() const {
    const QSize below = controls_->minimumSizeHint();
    return {std::max(160, below.width()),
            kMinPlotHeight + caption_->sizeHint().height() + below.height() + 2 * kSpacing};
}

void SaliencyPanel::resizeEvent(QResizeEvent* event) {
    QWidget::resizeEvent(event);
    updateLayout();
}

int SaliencyPanel::plotHeightFor(int width, int available) const {
    const int gh = grid_->gridHeight(), gw = grid_->gridWidth();
    if (gh <= 0 || gw <= 0)
        return available;
    // The margins around the axis rect (title, tick labels, colour scale) from the last layout;
    // typical values before the first one.
    const QCustomPlot* plot = grid_->customPlot();
    const QRect axis = plot->axisRect()->rect();
    int extraWidth = 110, extraHeight = 75;
    if (axis.width() > 20 && axis.height() > 20 && plot->width() > axis.width() &&
        plot->height() > axis.height()) {
        extraWidth = plot->width() - axis.width();
        extraHeight = plot->height() - axis.height();
    }
    const double cell = double(std::max(width - extraWidth, 1)) / gw;
    const int ideal = extraHeight + int(std::ceil(cell * gh));
    return std::clamp(ideal, std::min(kMinPlotHeight, available), available);
}

void SaliencyPanel::updateLayout() {
    const int w = width(), height = this->height();
    const int captionHeight =
        caption_->hasHeightForWidth() ? caption_->heightForWidth(w) : caption_->sizeHint().height();
    const int controlsHeight = controls_->sizeHint().height();
    const int available = std::max(height - captionHeight - controlsHeight - 2 * kSpacing, 1);
    // Twice: the plot's margins (tick labels) may change with its size.
    int plotHeight = plotHeightFor(w, available);
    for (int pass = 0; pass < 2; ++pass) {
        const int top =
            std::max((height - plotHeight - captionHeight - controlsHeight - 2 * kSpacing) / 2, 0);
        grid_->setGeometry(0, top, w, plotHeight);
        caption_->setGeometry(0, top + plotHeight + kSpacing, w, captionHeight);
        controls_->setGeometry(0, top + plotHeight + captionHeight + 2 * kSpacing, w,
                               controlsHeight);
        const int again = plotHeightFor(w, available);
        if (std::abs(again - plotHeight) <= 2)
            break;
        plotHeight = again;
    }
}

} // namespace attnsteer
