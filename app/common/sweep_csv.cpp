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

namespace {
constexpr SweepColumn kSweepColumns[] = {
    {"lambda", &SweepRow::lambda},
    {"entropy_reduction_pct_mean", &SweepRow::reductionMean},
    {"entropy_reduction_pct_std", &SweepRow::reductionStd},
    {"kl_mean", &SweepRow::klMean},
    {"kl_std", &SweepRow::klStd},
    {"saliency_expectation_gain_mean", &SweepRow::expectationGainMean},
    {"saliency_expectation_gain_std", &SweepRow::expectationGainStd},
    {"target_mass_gain_mean", &SweepRow::targetMassGainMean},
    {"target_mass_gain_std", &SweepRow::targetMassGainStd},
    {"pointing_gain_mean", &SweepRow::pointingGainMean},
    {"pointing_gain_std", &SweepRow::pointingGainStd},
    {"target_mass_mean", &SweepRow::targetMassMean},
    {"target_mass_std", &SweepRow::targetMassStd},
    {"pointing_mean", &SweepRow::pointingMean},
    {"pointing_std", &SweepRow::pointingStd},
};
} // namespace

std::span<const SweepColumn> sweepColumns() {
    return kSweepColumns;
}

QByteArray sweepCsv(const std::vector<SweepRow>& rows) {
    QStringList header;
    for (const SweepColumn& column : kSweepColumns)
        header << QString::fromLatin1(column.name);
    QByteArray csv = header.join(QLatin1Char(',')).toLatin1() + '\n';
    for (const SweepRow& row : rows) {
        QStringList fields;
        for (const SweepColumn& column : kSweepColumns)
            fields << exactNumber(row.*column.value);
        csv += fields.join(QLatin1Char(',')).toLatin1() + '\n';
    }
    return csv;
}

} // namespace attnsteer
