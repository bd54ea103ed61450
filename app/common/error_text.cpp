#include "error_text.h"

#include <QCoreApplication>
#include <QDir>

#include <string_view>

namespace attnsteer {

std::string commandLineMessage(const InputError& error) {
    const InputSubject& subject = error.subject();
    switch (subject.kind) {
    case InputSubject::Kind::Setting:
        return "--" + subject.name + ": " + error.problem();
    case InputSubject::Kind::File:
    case InputSubject::Kind::Input:
        return subject.name + ": " + error.problem();
    case InputSubject::Kind::None:
        break;
    }
    return error.problem();
}

QString settingLabel(const std::string& name) {
    // The labels of the controls that set them (control_panel / main_window).
    struct Label {
        std::string_view setting;
        const char* text;
    };
    static constexpr Label kLabels[] = {
        {"lambda", QT_TRANSLATE_NOOP("Settings", "λ")},
        {"eps", QT_TRANSLATE_NOOP("Settings", "ε")},
        {"normalize", QT_TRANSLATE_NOOP("Settings", "Normalization")},
        {"steer-heads", QT_TRANSLATE_NOOP("Settings", "Steered heads")},
        {"backend", QT_TRANSLATE_NOOP("Settings", "Backend")},
        {"seed", QT_TRANSLATE_NOOP("Settings", "Seed")},
        {"heads", QT_TRANSLATE_NOOP("Settings", "Heads")},
        {"queries", QT_TRANSLATE_NOOP("Settings", "Queries")},
        {"keys", QT_TRANSLATE_NOOP("Settings", "Keys")},
        {"logit-std", QT_TRANSLATE_NOOP("Settings", "Logit σ")},
        {"vision-offset", QT_TRANSLATE_NOOP("Settings", "Vision offset")},
        {"patch-factor", QT_TRANSLATE_NOOP("Settings", "Patch factor")},
        {"min-pixels", QT_TRANSLATE_NOOP("Settings", "Min pixels")},
        {"max-pixels", QT_TRANSLATE_NOOP("Settings", "Max pixels")},
        {"text-saliency", QT_TRANSLATE_NOOP("Settings", "Text saliency")},
        {"head", QT_TRANSLATE_NOOP("Settings", "Head")},
        {"query", QT_TRANSLATE_NOOP("Settings", "Query")},
        {"saliency", QT_TRANSLATE_NOOP("Settings", "Saliency")},
        {"layer", QT_TRANSLATE_NOOP("Settings", "Layer")},
        {"image-grid", QT_TRANSLATE_NOOP("Settings", "Image grid")},
        {"meta", QT_TRANSLATE_NOOP("Settings", "Sidecar")},
        {"threads", QT_TRANSLATE_NOOP("Settings", "Threads")},
        {"gate-entropy", QT_TRANSLATE_NOOP("Settings", "Gate τ")},
        {"target", QT_TRANSLATE_NOOP("Settings", "Target")},
        {"workload", QT_TRANSLATE_NOOP("Settings", "Workload")},
        {"head-dim", QT_TRANSLATE_NOOP("Settings", "Head dim")},
        {"target-strength", QT_TRANSLATE_NOOP("Settings", "Target τ")},
        {"saliency-quality", QT_TRANSLATE_NOOP("Settings", "Saliency Q")},
        {"saliency-blur", QT_TRANSLATE_NOOP("Settings", "Saliency blur")},
    };
    for (const Label& label : kLabels)
        if (label.setting == name)
            return QCoreApplication::translate("Settings", label.text);
    return QString::fromStdString(name);
}

QString windowMessage(const InputError& error) {
    const InputSubject& subject = error.subject();
    const QString problem = QString::fromStdString(error.problem());
    switch (subject.kind) {
    case InputSubject::Kind::Setting:
        return settingLabel(subject.name) + QStringLiteral(": ") + problem;
    case InputSubject::Kind::File:
        return QDir::toNativeSeparators(QString::fromStdString(subject.name)) +
               QStringLiteral(": ") + problem;
    case InputSubject::Kind::Input:
        return QString::fromStdString(subject.name) + QStringLiteral(": ") + problem;
    case InputSubject::Kind::None:
        break;
    }
    return problem;
}

} // namespace attnsteer
