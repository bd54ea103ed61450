#include "sweep_csv.h"

#include <QStringList>

#include <charconv>

namespace attnsteer {
QString exactNumber(double value) {
    char text[64];
    const auto [end, error] = std::to_chars(text, text + sizeof text, value);
    if (error != std::errc())
        return QString::number(value, 'g', 17);
    return QString::fromLatin1(text, end - text);
}

QByteArray sweepCsv(const std::vector<SweepRow>& rows) {
    QByteArray csv = "lambda,entropy_reduction_pct_mean,entropy_reduction_pct_std,kl_mean,kl_std\n";
    for (const SweepRow& row : rows) {
        const QStringList fields = {exactNumber(row.lambda), exactNumber(row.reductionMean),
                                    exactNumber(row.reductionStd), exactNumber(row.klMean),
                                    exactNumber(row.klStd)};
        csv += fields.join(QLatin1Char(',')).toLatin1() + '\n';
    }
    return csv;
}

} // namespace attnsteer
