#pragma once
// A QDoubleSpinBox for small positive numbers such as eps = 1e-9: shows them in scientific
// notation and steps by factors of ten.

#include <QDoubleSpinBox>

namespace attnsteer {

class SciSpinBox : public QDoubleSpinBox {
    Q_OBJECT
  public:
    explicit SciSpinBox(QWidget* parent = nullptr);

    QString textFromValue(double value) const override;
    double valueFromText(const QString& text) const override;
    QValidator::State validate(QString& text, int& position) const override;
    /// One step multiplies or divides by 10; stepping down from the smallest step gives 0 and
    /// up from 0 gives 1e-12.
    void stepBy(int steps) override;
};

} // namespace attnsteer
