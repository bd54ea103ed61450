#pragma once
// The small dialog before exporting a view or all plots: format, size in pixels, scale.

#include <QDialog>
#include <QSize>

class QComboBox;
class QDoubleSpinBox;
class QSpinBox;

namespace attnsteer {

class ExportDialog : public QDialog {
    Q_OBJECT
  public:
    enum class Format { Png, Pdf };
    /// ALLOW_PDF false (export all) offers PNG only and no scale.
    ExportDialog(const QString& title, QSize size, bool allowPdf, QWidget* parent = nullptr);

    Format format() const;
    QSize pixelSize() const;
    double scale() const;

  private:
    QComboBox* format_ = nullptr;
    QSpinBox* width_ = nullptr;
    QSpinBox* height_ = nullptr;
    QDoubleSpinBox* scale_ = nullptr;
};

} // namespace attnsteer
