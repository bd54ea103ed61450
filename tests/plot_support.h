#pragma once
// What the suites of the views and the window check on any view: titles that fit, tick labels
// apart.

#include "plot_view.h"

#include <qcustomplot.h>

#include <QFontMetrics>
#include <QString>
#include <QStringList>

#include <cmath>

namespace plotsupport {

/// The first problem of VIEW's layout after a replot: a title line wider than the plot, or two
/// neighbouring tick labels of an axis that overlap; empty when there is none.
inline QString layoutProblem(const attnsteer::PlotView& view) {
    QCustomPlot* plot = view.customPlot();
    const QFontMetrics title(view.style().title);
    for (const QString& line : view.shownTitle().split(QLatin1Char('\n')))
        if (title.horizontalAdvance(line) > plot->width())
            return QStringLiteral("%1: the title line '%2' is wider than the plot")
                .arg(view.viewName(), line);
    for (QCPAxisRect* rect : plot->axisRects())
        for (QCPAxis* axis : rect->axes()) {
            if (!axis->visible() || !axis->tickLabels())
                continue;
            const QVector<double> ticks = axis->tickVector();
            const QVector<QString> labels = axis->tickVectorLabels();
            const QFontMetrics metrics(axis->tickLabelFont());
            for (qsizetype i = 1; i < ticks.size() && i < labels.size(); ++i) {
                const double apart =
                    std::abs(axis->coordToPixel(ticks[i]) - axis->coordToPixel(ticks[i - 1]));
                const double needed = axis->orientation() == Qt::Horizontal
                                          ? (metrics.horizontalAdvance(labels[i]) +
                                             metrics.horizontalAdvance(labels[i - 1])) /
                                                2.0
                                          : metrics.height();
                if (apart < needed)
                    return QStringLiteral("%1 at %2 x %3: tick labels '%4' and '%5' overlap")
                        .arg(view.viewName())
                        .arg(plot->width())
                        .arg(plot->height())
                        .arg(labels[i - 1], labels[i]);
            }
        }
    return {};
}

} // namespace plotsupport
