#include "sci_spin_box.h"

#include <QLocale>
#include <QRegularExpression>

#include <algorithm>

#include <cmath>

namespace attnsteer {

namespace {
constexpr double kSmallestStep = 1e-12;
}

SciSpinBox::SciSpinBox(QWidget* parent) : QDoubleSpinBox(parent) {
    setDecimals(323); // keep every digit: the text is formatted below
    setRange(0, 1);
    setKeyboardTracking(false);
    setCorrectionMode(QAbstractSpinBox::CorrectToPreviousValue);
}

QString SciSpinBox::textFromValue(double value) const {
    if (value == 0)
        return QStringLiteral("0");
    return QString::number(value, 'g', 6);
}

double SciSpinBox::valueFromText(const QString& text) const {
    bool ok = false;
    const double value = QLocale::c().toDouble(text.trimmed(), &ok);
    return ok ? value : this->value();
}

QValidator::State SciSpinBox::validate(QString& text, int&) const {
    const QString trimmed = text.trimmed();
    if (trimmed.isEmpty())
        return QValidator::Intermediate;
    bool ok = false;
    const double value = QLocale::c().toDouble(trimmed, &ok);
    if (ok)
        return value >= minimum() && value <= maximum() ? QValidator::Acceptable
                                                        : QValidator::Intermediate;
    // Partial input such as "1e" or "1e-" or "-"
    static const QRegularExpression partial(QStringLiteral("^[0-9]*\\.?[0-9]*(e[-+]?[0-9]*)?$"),
                                            QRegularExpression::CaseInsensitiveOption);
    return partial.match(trimmed).hasMatch() ? QValidator::Intermediate : QValidator::Invalid;
}

void SciSpinBox::stepBy(int steps) {
    double value = this->value();
    for (int i = 0; i < std::abs(steps); ++i) {
        if (steps > 0)
            value = value <= 0 ? kSmallestStep : value * 10;
        else
            value = value <= kSmallestStep ? 0 : value / 10;
    }
    setValue(std::clamp(value, minimum(), maximum()));
}

} // namespace attnsteer
