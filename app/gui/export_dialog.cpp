#include "export_dialog.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QLabel>
#include <QSpinBox>

namespace attnsteer {

ExportDialog::ExportDialog(const QString& title, QSize size, bool allowPdf, QWidget* parent)
    : QDialog(parent) {
    setWindowTitle(title);
    auto* form = new QFormLayout(this);
    format_ = new QComboBox(this);
    format_->addItem(tr("PNG (raster)"), int(Format::Png));
    if (allowPdf)
        format_->addItem(tr("PDF (vector)"), int(Format::Pdf));
    format_->setToolTip(tr("PNG for slides and notes, PDF for print (sizes then in points)"));
    format_->setEnabled(allowPdf);
    form->addRow(tr("Format:"), format_);
    width_ = new QSpinBox(this);
    width_->setRange(16, 20000);
    width_->setValue(size.width());
    width_->setSuffix(tr(" px"));
    width_->setToolTip(tr("Width of the picture's layout"));
    form->addRow(tr("Width:"), width_);
    height_ = new QSpinBox(this);
    height_->setRange(16, 20000);
    height_->setValue(size.height());
    height_->setSuffix(tr(" px"));
    height_->setToolTip(tr("Height of the picture's layout"));
    form->addRow(tr("Height:"), height_);
    scale_ = new QDoubleSpinBox(this);
    scale_->setRange(0.25, 8);
    scale_->setSingleStep(0.5);
    scale_->setValue(1);
    scale_->setSuffix(QStringLiteral(" ×"));
    scale_->setToolTip(tr("PNG only: 2 × gives twice the pixels with the same layout (sharper)"));
    scale_->setVisible(allowPdf);
    if (allowPdf)
        form->addRow(tr("Scale:"), scale_);
    connect(format_, &QComboBox::currentIndexChanged, this,
            [this] { scale_->setEnabled(format() == Format::Png); });
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    form->addRow(buttons);
}

ExportDialog::Format ExportDialog::format() const {
    return Format(format_->currentData().toInt());
}

QSize ExportDialog::pixelSize() const {
    return {width_->value(), height_->value()};
}

double ExportDialog::scale() const {
    return format() == Format::Png ? scale_->value() : 1.0;
}

} // namespace attnsteer
