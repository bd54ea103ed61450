#pragma once
// The small dialog before exporting a view or all plots: format (PNG, PDF, SVG), figure size in
// inches (or a preset), resolution for PNG, and whether the interactive overlays go in too.

#include "figure.h"

#include <QDialog>

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QSpinBox;

namespace attnsteer {

class ExportDialog : public QDialog {
    Q_OBJECT
  public:
    /// Starts on INITIAL.
    ExportDialog(const QString& title, const FigureSpec& initial, QWidget* parent = nullptr);

    /// The figure as the fields describe it.
    FigureSpec spec() const;
    /// "1200 × 800 pixels" (PNG) or "page 6 × 4 in (432 × 288 pt)": what the fields give.
    QString sizeSummary() const;

  private:
    void updateSummary();

    QComboBox* format_ = nullptr;
    QComboBox* preset_ = nullptr;
    QDoubleSpinBox* width_ = nullptr;
    QDoubleSpinBox* height_ = nullptr;
    QSpinBox* dpi_ = nullptr;
    QCheckBox* overlays_ = nullptr;
    QLabel* summary_ = nullptr;
};

} // namespace attnsteer
