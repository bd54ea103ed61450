#include "plot_data.h"

#include <cmath>

namespace attnsteer {

QSize gridShapeFor(int keys) {
    if (keys < 1)
        return {0, 0};
    int rows = int(std::floor(std::sqrt(double(keys))));
    while (rows > 1 && keys % rows != 0)
        --rows;
    return {keys / rows, rows}; // QSize(width, height)
}

QString gridCaption(const PlotData& data) {
    int height = data.gridHeight, width = data.gridWidth;
    if (height <= 0 || width <= 0) {
        const QSize shape = gridShapeFor(int(data.saliency.size()));
        height = shape.height(), width = shape.width();
    }
    const QString grid =
        QStringLiteral("grid %1 x %2 = %3 tokens").arg(height).arg(width).arg(height * width);
    if (!data.image.isNull() && data.resizedHeight > 0)
        return grid +
               QStringLiteral(", resized %1 x %2").arg(data.resizedHeight).arg(data.resizedWidth);
    if (data.saliencyLabel.isEmpty())
        return grid;
    return grid + QStringLiteral(" (saliency: %1)").arg(data.saliencyLabel);
}

} // namespace attnsteer
