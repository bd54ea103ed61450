#include "heads_panel.h"

#include "heads_plot.h"
#include "widget_helpers.h"
#include "window_controls.h"

#include "attnsteer/profile.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QSpinBox>
#include <QVBoxLayout>

namespace attnsteer {

HeadsPanel::HeadsPanel(WindowControls& controls, QWidget* parent) : QWidget(parent), c_(controls) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(6, 4, 6, 6);
    layout->setSpacing(4);

    c_.headsColumn = named(new QComboBox, "headsColumn",
                           tr("The profile column the heads view shows, and ranks the heads by for "
                              "\"Steer top k heads\" (grounding_score: vision mass × max(0, "
                              "saliency r))"));
    for (const ProfileColumn& column : profileColumns()) {
        const QString name = QString::fromLatin1(column.name.data(), qsizetype(column.name.size()));
        c_.headsColumn->addItem(name, name);
        c_.headsColumn->setItemData(
            c_.headsColumn->count() - 1,
            QString::fromUtf8(column.description.data(), qsizetype(column.description.size())) +
                (column.higherIsBetter ? tr(" (higher ranks first)") : tr(" (lower ranks first)")),
            Qt::ToolTipRole);
    }
    c_.headsColumn->setCurrentIndex(c_.headsColumn->findData(
        QString::fromLatin1(kDefaultRankColumn.data(), qsizetype(kDefaultRankColumn.size()))));
    c_.topK = named(new QSpinBox, "topK",
                    tr("How many of the best heads by the column \"Steer top k heads\" steers "
                       "(marked ○ in the view; the tradeoff view draws their curve)"));
    c_.topK->setRange(1, 4096);
    c_.topK->setValue(4);
    c_.topK->setPrefix(QStringLiteral("k = "));
    c_.topK->setKeyboardTracking(false);
    c_.steerTopK = named(new QPushButton(tr("Steer top k heads")), "steerTopK",
                         tr("Write the k best heads by the column into the steered heads (\"L2H5, "
                            "...\") and apply them (Ctrl+K)"));
    // Two rows, so that the dock can stay narrow beside the other views.
    auto* columnRow = new QHBoxLayout;
    auto* columnLabel = new QLabel(tr("Show"));
    columnLabel->setBuddy(c_.headsColumn);
    columnLabel->setToolTip(c_.headsColumn->toolTip());
    columnRow->addWidget(columnLabel);
    columnRow->addWidget(c_.headsColumn, 1);
    layout->addLayout(columnRow);
    auto* steerRow = new QHBoxLayout;
    steerRow->addWidget(c_.topK);
    steerRow->addWidget(c_.steerTopK, 1);
    layout->addLayout(steerRow);

    status_ = new QLabel(tr("No profile yet"));
    status_->setObjectName(QStringLiteral("headsStatus"));
    status_->setWordWrap(true);
    status_->setToolTip(tr("What the heads view shows"));
    layout->addWidget(status_);
    plot_ = new HeadsPlot;
    plot_->setObjectName(QStringLiteral("headsPlot"));
    layout->addWidget(plot_, 1);

    connect(c_.headsColumn, &QComboBox::currentIndexChanged, this, [this] {
        plot_->setColumn(column());
        emit rankingChanged();
    });
    connect(c_.topK, &QSpinBox::valueChanged, this, [this](int k) {
        plot_->setTopK(k);
        emit rankingChanged();
    });
    connect(c_.steerTopK, &QPushButton::clicked, this, &HeadsPanel::steerTopKRequested);
    plot_->setTopK(topK());
}

void HeadsPanel::showProfile(std::shared_ptr<const Profile> profile, int layers, int headsPerLayer,
                             bool current) {
    const bool has = profile != nullptr;
    plot_->setColumn(column());
    plot_->setProfile(std::move(profile), layers, headsPerLayer);
    c_.steerTopK->setEnabled(has);
    if (has)
        status_->setText(current ? tr("Every layer and head at the current λ and steering; hover "
                                      "for the numbers, click to choose")
                                 : tr("Updating to the current λ and steering..."));
}

void HeadsPanel::showStatus(const QString& status) {
    status_->setText(status);
}

QString HeadsPanel::column() const {
    return c_.headsColumn->currentData().toString();
}

int HeadsPanel::topK() const {
    return c_.topK->value();
}

std::vector<LayerHead> HeadsPanel::topHeads() const {
    return plot_->topHeads();
}

} // namespace attnsteer
