#include "workload_controls.h"

#include "widget_helpers.h"
#include "window_controls.h"

#include "attnsteer/simulated_saliency.h"
#include "attnsteer/transformer_block.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QSignalBlocker>
#include <QSlider>
#include <QSpinBox>

#include <cmath>

namespace attnsteer {

namespace {

constexpr int kQualitySteps = 100; ///< positions of the quality slider over 0..1

} // namespace

WorkloadControls::WorkloadControls(WindowControls& controls, QObject* parent)
    : QObject(parent), c_(controls) {
    WindowControls& c = c_;
    c.workload = named(new QComboBox, "workload",
                       tr("What the attention rows are: random (the write-up's Z ~ N(0, σ), "
                          "nearly uniform) or transformer (a simulated attention block of a "
                          "vision-language model with a planted object that the text asks about; "
                          "its saliency is a simulated vision model's map of it). Sizes and seed "
                          "apply to both"));
    c.workload->addItem(tr("random"), int(WorkloadKind::Random));
    c.workload->addItem(tr("transformer"), int(WorkloadKind::Transformer));

    const TransformerSpec block;
    c.headDim = named(new QSpinBox, "headDim",
                      tr("Head dimension d of the block's queries and keys (even, 8–1024); the "
                         "logits are Q Kᵀ / √d"));
    c.headDim->setRange(8, 1024);
    c.headDim->setSingleStep(8);
    c.headDim->setValue(block.headDim);
    c.headDim->setKeyboardTracking(false);
    c.targetStrength =
        named(new QDoubleSpinBox, "targetStrength",
              tr("τ: what the object's tokens add to the logits of the image-focused heads' text "
                 "queries, in nats (0: the model does not see the object; 1.25: it half sees "
                 "it; 3: it finds it in most rows)"));
    c.targetStrength->setDecimals(2);
    c.targetStrength->setRange(0, 100);
    c.targetStrength->setSingleStep(0.25);
    c.targetStrength->setValue(block.targetStrength);
    c.targetStrength->setKeyboardTracking(false);

    const SimulatedSaliencySpec saliency;
    const QString qualityTip =
        tr("Quality Q of the simulated vision model's saliency: 1 = exactly the object, 0 = a "
           "decoy and noise unrelated to it (from 0.5 up the object ranks first); drag to watch "
           "steering follow a good or a bad saliency");
    c.saliencyQualitySlider =
        named(new QSlider(Qt::Horizontal), "saliencyQualitySlider", qualityTip);
    c.saliencyQualitySlider->setRange(0, kQualitySteps);
    c.saliencyQualitySlider->setPageStep(kQualitySteps / 10);
    c.saliencyQualitySlider->setValue(int(std::lround(saliency.quality * kQualitySteps)));
    c.saliencyQuality = named(new QDoubleSpinBox, "saliencyQuality", qualityTip);
    c.saliencyQuality->setDecimals(2);
    c.saliencyQuality->setRange(0, 1);
    c.saliencyQuality->setSingleStep(0.05);
    c.saliencyQuality->setValue(saliency.quality);
    c.saliencyQuality->setKeyboardTracking(false);
    c.saliencyBlur = named(new QDoubleSpinBox, "saliencyBlur",
                           tr("Gaussian blur of the simulated saliency: its σ in grid tokens "
                              "(none = 0)"));
    c.saliencyBlur->setDecimals(1);
    c.saliencyBlur->setRange(0, 100);
    c.saliencyBlur->setSingleStep(0.5);
    c.saliencyBlur->setValue(saliency.blur);
    c.saliencyBlur->setSpecialValueText(tr("none"));
    c.saliencyBlur->setKeyboardTracking(false);

    connect(c.workload, &QComboBox::currentIndexChanged, this, [this] {
        showKind();
        emit kindChanged(kind());
    });
    connect(c.headDim, &QSpinBox::valueChanged, this, &WorkloadControls::edited);
    connect(c.targetStrength, &QDoubleSpinBox::valueChanged, this, &WorkloadControls::edited);
    connect(c.saliencyBlur, &QDoubleSpinBox::valueChanged, this, &WorkloadControls::edited);
    // Dragging the slider updates at once (the newest request wins); the box takes exact values.
    connect(c.saliencyQualitySlider, &QSlider::valueChanged, this, [this](int position) {
        c_.saliencyQuality->setValue(double(position) / kQualitySteps);
    });
    connect(c.saliencyQuality, &QDoubleSpinBox::valueChanged, this, [this](double quality) {
        {
            const QSignalBlocker blocker(c_.saliencyQualitySlider);
            c_.saliencyQualitySlider->setValue(int(std::lround(quality * kQualitySteps)));
        }
        emit edited();
    });
}

void WorkloadControls::addKindRow(QFormLayout* form, QGroupBox* group) {
    group_ = group;
    form->addRow(formLabel(tr("Workload"), c_.workload), c_.workload);
}

void WorkloadControls::addTransformerRows(QFormLayout* form, QWidget* randomOnly) {
    form_ = form;
    randomOnly_ = randomOnly;
    // The rows are found by their labels: the quality's field is a layout.
    const auto addRow = [&](const QString& text, QWidget* buddy, auto* field) {
        QLabel* label = formLabel(text, buddy);
        form->addRow(label, field);
        transformerRows_.push_back(label);
    };
    addRow(tr("Head dim"), c_.headDim, c_.headDim);
    addRow(tr("Target τ"), c_.targetStrength, c_.targetStrength);
    auto* qualityRow = new QHBoxLayout;
    qualityRow->addWidget(c_.saliencyQualitySlider, 1);
    qualityRow->addWidget(c_.saliencyQuality);
    addRow(tr("Saliency Q"), c_.saliencyQuality, qualityRow);
    addRow(tr("Saliency blur"), c_.saliencyBlur, c_.saliencyBlur);
    showKind();
}

WorkloadKind WorkloadControls::kind() const {
    return WorkloadKind(c_.workload->currentData().toInt());
}

void WorkloadControls::apply(Scenario& scenario) const {
    scenario.spec.kind = kind();
    scenario.spec.transformer.headDim = c_.headDim->value();
    scenario.spec.transformer.targetStrength = c_.targetStrength->value();
    scenario.simulatedSaliency.quality = c_.saliencyQuality->value();
    scenario.simulatedSaliency.blur = c_.saliencyBlur->value();
}

void WorkloadControls::showFileWorkload(bool fromFile) {
    for (QWidget* widget :
         {static_cast<QWidget*>(c_.workload), static_cast<QWidget*>(c_.headDim),
          static_cast<QWidget*>(c_.targetStrength), static_cast<QWidget*>(c_.saliencyQualitySlider),
          static_cast<QWidget*>(c_.saliencyQuality), static_cast<QWidget*>(c_.saliencyBlur)})
        widget->setEnabled(!fromFile);
}

void WorkloadControls::showKind() {
    const bool transformer = kind() == WorkloadKind::Transformer;
    if (group_)
        group_->setTitle(transformer ? tr("Workload  A = softmax(Q Kᵀ / √d), causal")
                                     : tr("Workload  A = softmax(Z), Z ~ N(0, σ)"));
    if (!form_)
        return;
    for (QWidget* label : transformerRows_)
        form_->setRowVisible(label, transformer);
    if (randomOnly_)
        form_->setRowVisible(randomOnly_, !transformer);
}

TransformerStoryView transformerStoryView(const WorkloadSpec& spec) {
    const TransformerLayout layout = transformerLayout(spec);
    TransformerStoryView view;
    for (int head = 0; head < spec.heads; ++head)
        if (TransformerBlock::headType(head) == HeadType::ImageFocused) {
            view.head = head;
            break;
        }
    // The last query that is a text token after the image: it has seen the image and asks.
    view.query = spec.queries - 1;
    for (int query = spec.queries - 1; query >= 0; --query) {
        const int token = layout.position(query);
        if (layout.isText(token) && token >= layout.visionEnd()) {
            view.query = query;
            break;
        }
    }
    return view;
}

} // namespace attnsteer
