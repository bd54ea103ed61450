#include "export_dialog.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QLabel>
#include <QSignalBlocker>
#include <QSpinBox>

#include <cmath>

namespace attnsteer {

namespace {

/// Figure sizes people ask for (inches).
struct Preset {
    const char* name;
    double width, height;
};
constexpr Preset kPresets[] = {
    {"One column (3.5 × 2.6 in)", 3.5, 2.6},
    {"Two columns (7 × 4 in)", 7.0, 4.0},
    {"Slide (10 × 5.6 in)", 10.0, 5.6},
};

} // namespace

ExportDialog::ExportDialog(const QString& title, const FigureSpec& initial, QWidget* parent)
    : QDialog(parent) {
    setWindowTitle(title);
    auto* form = new QFormLayout(this);
    format_ = new QComboBox(this);
    format_->addItem(tr("PNG (raster)"), int(FigureFormat::Png));
    format_->addItem(tr("PDF (vector)"), int(FigureFormat::Pdf));
    format_->addItem(tr("SVG (vector)"), int(FigureFormat::Svg));
    format_->setToolTip(tr("PNG for slides and notes; PDF and SVG for papers (vector, any zoom)"));
    format_->setCurrentIndex(std::max(format_->findData(int(initial.format)), 0));
    form->addRow(tr("Format:"), format_);
    preset_ = new QComboBox(this);
    preset_->addItem(tr("Custom"));
    for (const Preset& preset : kPresets)
        preset_->addItem(tr(preset.name), QSizeF(preset.width, preset.height));
    preset_->setToolTip(tr("Common figure sizes; fonts and lines are in points, so they read the "
                           "same at every size"));
    form->addRow(tr("Size:"), preset_);
    const auto inchBox = [this](double value, const QString& tip) {
        auto* box = new QDoubleSpinBox(this);
        box->setRange(kMinFigureInches, kMaxFigureInches);
        box->setDecimals(2);
        box->setSingleStep(0.25);
        box->setValue(value);
        box->setSuffix(tr(" in"));
        box->setToolTip(tip);
        return box;
    };
    width_ = inchBox(initial.inches.width(), tr("Width of the figure in inches"));
    form->addRow(tr("Width:"), width_);
    height_ = inchBox(initial.inches.height(), tr("Height of the figure in inches"));
    form->addRow(tr("Height:"), height_);
    dpi_ = new QSpinBox(this);
    dpi_->setRange(int(kMinFigureDpi), int(kMaxFigureDpi));
    dpi_->setValue(int(std::lround(initial.dpi)));
    dpi_->setSuffix(tr(" dpi"));
    dpi_->setToolTip(tr("PNG only: pixels per inch (300 for print, 150–200 for the screen)"));
    form->addRow(tr("Resolution:"), dpi_);
    overlays_ = new QCheckBox(tr("Include hover mark, selected row and live readout"), this);
    overlays_->setChecked(initial.overlays);
    overlays_->setToolTip(tr("Off: the figure shows the data only, as a paper needs it"));
    form->addRow(overlays_);
    summary_ = new QLabel(this);
    summary_->setObjectName(QStringLiteral("sizeSummary"));
    form->addRow(summary_);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    form->addRow(buttons);

    connect(preset_, &QComboBox::currentIndexChanged, this, [this](int index) {
        const QSizeF size = preset_->itemData(index).toSizeF();
        if (size.isEmpty())
            return;
        const QSignalBlocker a(width_), b(height_);
        width_->setValue(size.width());
        height_->setValue(size.height());
        updateSummary();
    });
    for (QDoubleSpinBox* box : {width_, height_})
        connect(box, &QDoubleSpinBox::valueChanged, this, [this] {
            const QSignalBlocker blocker(preset_);
            preset_->setCurrentIndex(0); // custom
            updateSummary();
        });
    connect(dpi_, &QSpinBox::valueChanged, this, &ExportDialog::updateSummary);
    connect(format_, &QComboBox::currentIndexChanged, this, &ExportDialog::updateSummary);
    for (int i = 1; i < preset_->count(); ++i)
        if (preset_->itemData(i).toSizeF() == initial.inches)
            preset_->setCurrentIndex(i);
    updateSummary();
}

FigureSpec ExportDialog::spec() const {
    FigureSpec spec;
    spec.format = FigureFormat(format_->currentData().toInt());
    spec.inches = QSizeF(width_->value(), height_->value());
    spec.dpi = dpi_->value();
    spec.overlays = overlays_->isChecked();
    return spec;
}

QString ExportDialog::sizeSummary() const {
    const FigureSpec figure = spec();
    const QString problem = figureSpecProblem(figure);
    if (!problem.isEmpty())
        return problem;
    if (figure.format == FigureFormat::Png)
        return tr("%1 × %2 pixels").arg(figure.pixels().width()).arg(figure.pixels().height());
    return tr("page %1 × %2 in (%3 × %4 pt)")
        .arg(figure.inches.width())
        .arg(figure.inches.height())
        .arg(figure.points().width())
        .arg(figure.points().height());
}

void ExportDialog::updateSummary() {
    dpi_->setEnabled(spec().format == FigureFormat::Png);
    summary_->setText(sizeSummary());
}

} // namespace attnsteer
