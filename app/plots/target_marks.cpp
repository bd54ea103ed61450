#include "target_marks.h"

#include <qcustomplot.h>

#include <algorithm>

namespace attnsteer {

std::vector<QLineF> targetOutline(std::span<const unsigned char> target, int offset, int gridHeight,
                                  int gridWidth) {
    std::vector<QLineF> segments;
    if (gridHeight <= 0 || gridWidth <= 0 || offset < 0)
        return segments;
    const auto isTarget = [&](int row, int column) {
        if (row < 0 || row >= gridHeight || column < 0 || column >= gridWidth)
            return false;
        const std::size_t key = std::size_t(offset) + std::size_t(row) * gridWidth + column;
        return key < target.size() && target[key] != 0;
    };
    // Horizontal edges on line y = row (between rows row - 1 and row), joined along the columns.
    for (int row = 0; row <= gridHeight; ++row)
        for (int column = 0; column < gridWidth;) {
            if (isTarget(row - 1, column) == isTarget(row, column)) {
                ++column;
                continue;
            }
            const int first = column;
            while (column < gridWidth && isTarget(row - 1, column) != isTarget(row, column))
                ++column;
            segments.emplace_back(first, row, column, row);
        }
    // Vertical edges on line x = column, joined along the rows.
    for (int column = 0; column <= gridWidth; ++column)
        for (int row = 0; row < gridHeight;) {
            if (isTarget(row, column - 1) == isTarget(row, column)) {
                ++row;
                continue;
            }
            const int first = row;
            while (row < gridHeight && isTarget(row, column - 1) != isTarget(row, column))
                ++row;
            segments.emplace_back(column, first, column, row);
        }
    return segments;
}

std::vector<QPair<int, int>> targetRuns(std::span<const unsigned char> target,
                                        std::span<const int> order) {
    std::vector<QPair<int, int>> runs;
    const auto isTarget = [&](std::size_t x) {
        const int token = order[x];
        return token >= 0 && std::size_t(token) < target.size() && target[std::size_t(token)];
    };
    for (std::size_t x = 0; x < order.size();) {
        if (!isTarget(x)) {
            ++x;
            continue;
        }
        const std::size_t first = x;
        while (x < order.size() && isTarget(x))
            ++x;
        runs.push_back({int(first), int(x - 1)});
    }
    return runs;
}

TargetOutlineItems::TargetOutlineItems(QCustomPlot* plot) : plot_(plot) {}

void TargetOutlineItems::show(const std::vector<QLineF>& segments) {
    for (QCPItemLine* line : lines_)
        plot_->removeItem(line);
    lines_.clear();
    segments_ = segments;
    // A dark line under an amber one: the outline reads on green, purple and on a picture.
    for (const QPen& pen : {QPen(QColor(0, 0, 0, 150), 4.0), QPen(plotcolors::target(), 2.2)})
        for (const QLineF& segment : segments_) {
            auto* line = new QCPItemLine(plot_);
            line->setLayer(QStringLiteral("overlay"));
            line->setPen(pen);
            line->setSelectable(false);
            line->start->setCoords(segment.p1());
            line->end->setCoords(segment.p2());
            lines_.push_back(line);
        }
}

TargetTokenItems::TargetTokenItems(QCustomPlot* plot, const QFont& font) : plot_(plot) {
    label_ = new QCPItemText(plot);
    label_->setLayer(QStringLiteral("background"));
    label_->position->setTypeX(QCPItemPosition::ptPlotCoords);
    label_->position->setTypeY(QCPItemPosition::ptAxisRectRatio);
    label_->setPositionAlignment(Qt::AlignLeft | Qt::AlignTop);
    label_->setFont(font);
    label_->setColor(plotcolors::target().darker(150));
    label_->setClipToAxisRect(true);
    label_->setVisible(false);
}

void TargetTokenItems::show(const std::vector<QPair<int, int>>& runs, const QString& label) {
    for (QCPItemRect* band : bands_)
        plot_->removeItem(band);
    bands_.clear();
    runs_ = runs;
    label_->setVisible(!runs_.empty());
    if (runs_.empty())
        return;
    QColor light = plotcolors::target();
    light.setAlpha(60);
    // A light band over the whole height and a solid strip along the bottom, per run.
    const struct {
        QColor colour;
        double top;
    } parts[] = {{light, 0.0}, {plotcolors::target(), 0.965}};
    for (const auto& part : parts)
        for (const QPair<int, int>& run : runs_) {
            auto* band = new QCPItemRect(plot_);
            band->setLayer(QStringLiteral("background"));
            band->setPen(Qt::NoPen);
            band->setBrush(part.colour);
            band->setSelectable(false);
            for (QCPItemPosition* corner : {band->topLeft, band->bottomRight}) {
                corner->setTypeX(QCPItemPosition::ptPlotCoords);
                corner->setTypeY(QCPItemPosition::ptAxisRectRatio);
            }
            band->topLeft->setCoords(run.first - 0.5, part.top);
            band->bottomRight->setCoords(run.second + 0.5, 1.0);
            band->setClipToAxisRect(true);
            bands_.push_back(band);
        }
    label_->position->setCoords(runs_.front().first - 0.5, 0.08);
    label_->setText(label);
}

} // namespace attnsteer
