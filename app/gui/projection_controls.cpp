#include "projection_controls.h"

#include "panels.h"
#include "widget_helpers.h"
#include "window_controls.h"

#include <QDoubleSpinBox>
#include <QGridLayout>
#include <QSpinBox>
#include <QToolButton>
#include <QVBoxLayout>

#include <algorithm>
#include <cstdint>
#include <limits>

namespace attnsteer {

ProjectionControls::ProjectionControls(WindowControls& controls, QWidget* parent)
    : QGroupBox(tr("Saliency image"), parent), c_(controls) {
    WindowControls& c = c_;
    setToolTip(tr("How a loaded saliency image becomes per-key saliency, the way Qwen2-VL "
                  "tokenizes an image"));
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(6, 2, 6, 4);
    auto* form = new QWidget;
    // Two fields a row: five rows would push the views out of the dock.
    auto* grid = new QGridLayout(form);
    grid->setContentsMargins(4, 0, 0, 0);
    grid->setColumnStretch(1, 1);
    grid->setColumnStretch(3, 1);
    const ProjectionOptions defaults;
    auto countBox = [](const char* name, const QString& tip, int min, int max, int value) {
        auto* box = named(new QSpinBox, name, tip);
        box->setRange(min, max);
        box->setValue(value);
        box->setKeyboardTracking(false);
        box->setGroupSeparatorShown(true);
        return box;
    };
    c.visionOffset =
        countBox("visionOffset",
                 tr("First key index of the vision tokens: the projected image tokens are placed "
                    "at keys offset .. offset + tokens − 1 (they must fit into K)"),
                 0, 1 << 20, defaults.visionOffset);
    grid->addWidget(formLabel(tr("Offset"), c.visionOffset), 0, 0);
    grid->addWidget(c.visionOffset, 0, 1);
    c.patchFactor = countBox("patchFactor",
                             tr("Pixels per vision token side: patch size × spatial merge (28 = "
                                "14 × 2 for Qwen2-VL; 32 for patch-16 models)"),
                             1, 1024, defaults.patchFactor);
    grid->addWidget(formLabel(tr("Factor"), c.patchFactor), 0, 2);
    grid->addWidget(c.patchFactor, 0, 3);
    c.minPixels = countBox("minPixels",
                           tr("Smallest area of the resized image in pixels (Qwen2-VL: 4 × 28 × "
                              "28 = 3136)"),
                           0, std::numeric_limits<int>::max(), int(defaults.minPixels));
    grid->addWidget(formLabel(tr("Min px"), c.minPixels), 1, 0);
    grid->addWidget(c.minPixels, 1, 1);
    c.maxPixels = countBox("maxPixels",
                           tr("Largest area of the resized image in pixels; auto (0) = K × "
                              "factor², as many tokens as there are keys"),
                           0, std::numeric_limits<int>::max(), int(defaults.maxPixels));
    c.maxPixels->setSpecialValueText(tr("auto"));
    grid->addWidget(formLabel(tr("Max px"), c.maxPixels), 1, 2);
    grid->addWidget(c.maxPixels, 1, 3);
    setPixelSteps(defaults.patchFactor);
    c.textSaliency = named(new QDoubleSpinBox, "textSaliency",
                           tr("Raw saliency of the key tokens that are not vision tokens (text "
                              "tokens), before normalization"));
    c.textSaliency->setDecimals(3);
    c.textSaliency->setRange(-1000, 1000);
    c.textSaliency->setSingleStep(0.05);
    c.textSaliency->setValue(defaults.textSaliency);
    c.textSaliency->setKeyboardTracking(false);
    grid->addWidget(formLabel(tr("Text s"), c.textSaliency), 2, 0);
    grid->addWidget(c.textSaliency, 2, 1);
    c.projectionSection = new CollapsibleSection(tr("Projection"), form);
    c.projectionSection->setObjectName(QStringLiteral("projectionSection"));
    c.projectionSection->toggleButton()->setToolTip(
        tr("Show or hide the projection options (applied live to a loaded image)"));
    layout->addWidget(c.projectionSection);

    for (QSpinBox* box : {c.visionOffset, c.patchFactor, c.minPixels, c.maxPixels})
        connect(box, &QSpinBox::valueChanged, this, [this] {
            updateSummary();
            emit edited();
        });
    connect(c.patchFactor, &QSpinBox::valueChanged, this, &ProjectionControls::setPixelSteps);
    connect(c.textSaliency, &QDoubleSpinBox::valueChanged, this, [this] {
        updateSummary();
        emit edited();
    });
}

ProjectionOptions ProjectionControls::options() const {
    ProjectionOptions options;
    options.visionOffset = c_.visionOffset->value();
    options.patchFactor = c_.patchFactor->value();
    options.minPixels = c_.minPixels->value();
    options.maxPixels = c_.maxPixels->value();
    options.textSaliency = c_.textSaliency->value();
    return options;
}

void ProjectionControls::showOptions(const ProjectionOptions& options) {
    const WindowControls& c = c_;
    {
        const QSignalBlocker a(c.visionOffset), b(c.patchFactor), d(c.minPixels), e(c.maxPixels),
            f(c.textSaliency);
        c.visionOffset->setValue(options.visionOffset);
        c.patchFactor->setValue(options.patchFactor);
        c.minPixels->setValue(
            int(std::min<std::int64_t>(options.minPixels, c.minPixels->maximum())));
        c.maxPixels->setValue(
            int(std::min<std::int64_t>(options.maxPixels, c.maxPixels->maximum())));
        c.textSaliency->setValue(options.textSaliency);
    }
    setPixelSteps(options.patchFactor);
    updateSummary();
}

/// The pixel areas step by one token's area.
void ProjectionControls::setPixelSteps(int factor) {
    c_.minPixels->setSingleStep(factor * factor);
    c_.maxPixels->setSingleStep(factor * factor);
}

void ProjectionControls::updateSummary() {
    const WindowControls& c = c_;
    c.projectionSection->setSummary(
        tr("offset %1, factor %2, %3 – %4 px, text s %5")
            .arg(c.visionOffset->value())
            .arg(c.patchFactor->value())
            .arg(c.minPixels->value())
            .arg(c.maxPixels->value() == 0 ? tr("auto") : QString::number(c.maxPixels->value()))
            .arg(QString::number(c.textSaliency->value(), 'g', 6)));
}

} // namespace attnsteer
