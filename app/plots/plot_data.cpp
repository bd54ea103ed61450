#include "plot_data.h"

#include <algorithm>
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
    if (data.modelGrid && height > 0 && width > 0) {
        QString caption = QStringLiteral("model's grid %1 x %2 = %3 vision tokens from key %4")
                              .arg(height)
                              .arg(width)
                              .arg(height * width)
                              .arg(data.gridOffset);
        const int frames = data.visionTokens / std::max(height * width, 1);
        if (frames > 1)
            caption += QStringLiteral(", frame 1 of %1").arg(frames);
        return caption;
    }
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

QString headLabel(const PlotData& data) {
    if (data.layersAveraged > 1)
        return QStringLiteral("head %1, mean of %2 layers").arg(data.head).arg(data.layersAveraged);
    if (data.layer >= 0)
        return QStringLiteral("layer %1, head %2").arg(data.layer).arg(data.head);
    return QStringLiteral("head %1").arg(data.head);
}

QString keyLabel(const PlotData& data, int token) {
    return keyLabel(token, data.tokens, data.visionStart, data.visionTokens, data.gridHeight,
                    data.gridWidth);
}

QString keyLabel(int token, const std::vector<QString>& tokens, int visionStart, int visionTokens,
                 int gridHeight, int gridWidth) {
    const QString key = QStringLiteral("key %1").arg(token);
    const int index = token - visionStart;
    if (visionStart >= 0 && index >= 0 && index < visionTokens && gridHeight > 0 && gridWidth > 0) {
        const int perFrame = gridHeight * gridWidth, inFrame = index % perFrame;
        QString where =
            QStringLiteral("row %1, col %2").arg(inFrame / gridWidth).arg(inFrame % gridWidth);
        if (visionTokens > perFrame)
            where = QStringLiteral("frame %1, ").arg(index / perFrame) + where;
        return key + QStringLiteral(" · image (%1)").arg(where);
    }
    if (token >= 0 && std::size_t(token) < tokens.size()) {
        QString text = tokens[std::size_t(token)];
        text.replace(QLatin1Char('\n'), QStringLiteral("\\n"));
        text.replace(QLatin1Char('\t'), QStringLiteral("\\t"));
        return key + QStringLiteral(" · '%1'").arg(text);
    }
    return key;
}

} // namespace attnsteer
