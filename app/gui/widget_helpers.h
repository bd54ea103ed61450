#pragma once
// Small helpers the parts of the window share when they build their widgets.

#include <QLabel>
#include <QString>

namespace attnsteer {

/// WIDGET with the objectName NAME (its field in WindowControls) and the tooltip TIP.
template <typename Widget> Widget* named(Widget* widget, const char* name, const QString& tip) {
    widget->setObjectName(QString::fromLatin1(name));
    widget->setToolTip(tip);
    return widget;
}

/// A label in a form ("λ" etc.) with a tooltip shared with its field.
inline QLabel* formLabel(const QString& text, QWidget* buddy) {
    auto* label = new QLabel(text);
    label->setBuddy(buddy);
    label->setToolTip(buddy->toolTip());
    return label;
}

} // namespace attnsteer
