// attnsteer: the desktop lab. Opens on the built-in random workload (or the transformer's); files
// and sizes can be given on the command line.
#include "atomic_file.h"
#include "error_text.h"
#include "main_window.h"

#include "attnsteer/errors.h"
#include "attnsteer/option_values.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QSpinBox>

#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>

namespace {

/// Whether ARGV asks only for help or the version: those need no display.
bool asksForHelpOrVersion(int argc, char* argv[]) {
    for (int i = 1; i < argc; ++i)
        for (const char* flag : {"-h", "--help", "-?", "--help-all", "-v", "--version"})
            if (std::strcmp(argv[i], flag) == 0)
                return true;
    return false;
}

} // namespace

int main(int argc, char* argv[]) {
    QCoreApplication::setOrganizationName(QStringLiteral("AttnSteer"));
    QCoreApplication::setApplicationName(QStringLiteral("AttnSteer"));
    QCoreApplication::setApplicationVersion(QStringLiteral(ATTNSTEER_VERSION));
    // --help and --version print and exit before a display is opened: they work on a machine
    // without one (a QCoreApplication needs none).
    std::unique_ptr<QCoreApplication> app;
    if (asksForHelpOrVersion(argc, argv))
        app = std::make_unique<QCoreApplication>(argc, argv);
    else
        app = std::make_unique<QApplication>(argc, argv);
    attnsteer::removeTemporaryFilesOnSignals();

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral(
        "Cross-modal attention steering lab: A' = softmax(log(A + eps) + lambda*s)"));
    parser.addHelpOption();
    parser.addVersionOption();
    const QCommandLineOption image(
        QStringLiteral("image"),
        QStringLiteral("Saliency image to project onto the vision tokens."),
        QStringLiteral("FILE"));
    const QCommandLineOption logits(
        QStringLiteral("logits"),
        QStringLiteral("Logits dump (.npy, .npz, .safetensors) of shape [Q,K], [H,Q,K] or "
                       "[L,H,Q,K]."),
        QStringLiteral("FILE"));
    const QCommandLineOption attention(
        QStringLiteral("attention"),
        QStringLiteral("Attention probabilities dump (rows sum to 1), same formats and shapes."),
        QStringLiteral("FILE"));
    const QCommandLineOption layer(
        QStringLiteral("layer"),
        QStringLiteral("Layer of the dump to start on: all (default) or an index, negative "
                       "counting from the end (-1 = the last)."),
        QStringLiteral("N"));
    const QCommandLineOption meta(
        QStringLiteral("meta"),
        QStringLiteral("The dump's sidecar JSON (tokens, vision_start, image_grid_thw, image); "
                       "default DUMP.json beside the dump."),
        QStringLiteral("FILE"));
    const QCommandLineOption saliency(QStringLiteral("saliency"),
                                      QStringLiteral("Raw per-key saliency .npy of shape [K]."),
                                      QStringLiteral("FILE"));
    const QCommandLineOption targetMask(
        QStringLiteral("target-mask"),
        QStringLiteral("Target mask image (the object): projected onto the vision tokens like a "
                       "saliency image, tokens >= 0.5 are the target."),
        QStringLiteral("FILE"));
    const QCommandLineOption target(
        QStringLiteral("target"),
        QStringLiteral("Target .npy of shape [K]: nonzero marks a target token."),
        QStringLiteral("FILE"));
    const QCommandLineOption workload(
        QStringLiteral("workload"),
        QStringLiteral("Generated workload: random (default, the write-up's) or transformer (a "
                       "simulated attention block with a planted object; opens on its view)."),
        QStringLiteral("KIND"));
    const QCommandLineOption heads(QStringLiteral("heads"),
                                   QStringLiteral("Heads of the generated workload (default 32)."),
                                   QStringLiteral("N"));
    const QCommandLineOption queries(
        QStringLiteral("queries"),
        QStringLiteral("Queries of the generated workload (default 1024)."), QStringLiteral("N"));
    const QCommandLineOption keys(QStringLiteral("keys"),
                                  QStringLiteral("Keys of the generated workload (default 1024)."),
                                  QStringLiteral("N"));
    const QCommandLineOption seed(QStringLiteral("seed"), QStringLiteral("Seed (default 0)."),
                                  QStringLiteral("N"));
    const QCommandLineOption lambda(
        QStringLiteral("lambda"),
        QStringLiteral("Steering strength (default 0.25; negative steers away from the salient "
                       "tokens; above lambda max raises it)."),
        QStringLiteral("X"));
    const QCommandLineOption organization(
        QStringLiteral("settings-organization"),
        QStringLiteral("Keep settings under this organization name instead of AttnSteer "
                       "(a throwaway scope for screenshots and tests)."),
        QStringLiteral("NAME"));
    parser.addOptions({image, logits, attention, layer, meta, saliency, targetMask, target,
                       workload, heads, queries, keys, seed, lambda, organization});
    parser.process(*app); // prints help or the version and exits, without a display
    if (!parser.positionalArguments().isEmpty()) {
        std::fprintf(stderr, "attnsteer: unexpected argument '%s' (see --help)\n",
                     qPrintable(parser.positionalArguments().first()));
        return 2;
    }
    if (parser.isSet(organization))
        QCoreApplication::setOrganizationName(parser.value(organization));

    int sizes[3] = {-1, -1, -1};
    int seedValue = -1;
    std::optional<double> lambdaValue;
    std::optional<int> layerValue;
    std::optional<attnsteer::WorkloadKind> kind;
    try {
        if (parser.isSet(workload)) {
            const QString value = parser.value(workload);
            if (value != QStringLiteral("random") && value != QStringLiteral("transformer"))
                throw attnsteer::settingError(
                    "workload", "'" + value.toStdString() + "' is not one of random, transformer");
            kind = value == QStringLiteral("transformer") ? attnsteer::WorkloadKind::Transformer
                                                          : attnsteer::WorkloadKind::Random;
        }
        if ((parser.isSet(layer) || parser.isSet(meta)) && !parser.isSet(logits) &&
            !parser.isSet(attention))
            throw attnsteer::settingError(parser.isSet(layer) ? "layer" : "meta",
                                          "needs a dump (--logits or --attention)");
        if (parser.isSet(logits) && parser.isSet(attention))
            throw attnsteer::settingError("logits", "cannot be combined with --attention");
        if (parser.isSet(target) && parser.isSet(targetMask))
            throw attnsteer::settingError("target", "cannot be combined with --target-mask");
        if (parser.isSet(layer))
            layerValue = attnsteer::parseLayerChoice(parser.value(layer).toStdString());
        const QCommandLineOption* sizeOptions[3] = {&heads, &queries, &keys};
        for (int i = 0; i < 3; ++i)
            if (parser.isSet(*sizeOptions[i]))
                sizes[i] = int(attnsteer::parseWholeNumber(
                    parser.value(*sizeOptions[i]).toStdString(),
                    sizeOptions[i]->names().first().toStdString(), 1, 1 << 20));
        if (parser.isSet(seed))
            seedValue = int(attnsteer::parseWholeNumber(parser.value(seed).toStdString(), "seed", 0,
                                                        std::numeric_limits<int>::max()));
        if (parser.isSet(lambda))
            lambdaValue = attnsteer::parseRealNumber(parser.value(lambda).toStdString(), "lambda");
    } catch (const attnsteer::InputError& error) {
        std::fprintf(stderr, "attnsteer: %s\n", attnsteer::commandLineMessage(error).c_str());
        return 2;
    }

    attnsteer::MainWindow window;
    const auto& c = window.controls();
    if (sizes[0] > 0 || sizes[1] > 0 || sizes[2] > 0)
        window.setWorkloadSize(sizes[0] > 0 ? sizes[0] : c.heads->value(),
                               sizes[1] > 0 ? sizes[1] : c.queries->value(),
                               sizes[2] > 0 ? sizes[2] : c.keys->value());
    if (kind) // after the sizes: the transformer's view is of them; before lambda: it sets one
        window.setWorkloadKind(*kind);
    if (seedValue >= 0)
        window.setSeed(seedValue);
    if (lambdaValue)
        window.setLambda(*lambdaValue);
    if (parser.isSet(logits))
        window.openDump(parser.value(logits), attnsteer::MainWindow::NpyKind::Logits, layerValue,
                        parser.value(meta));
    if (parser.isSet(attention))
        window.openDump(parser.value(attention), attnsteer::MainWindow::NpyKind::Attention,
                        layerValue, parser.value(meta));
    if (parser.isSet(saliency))
        window.openNpy(parser.value(saliency), attnsteer::MainWindow::NpyKind::Saliency);
    if (parser.isSet(image))
        window.loadSaliencyImage(parser.value(image));
    if (parser.isSet(targetMask))
        window.loadTargetMask(parser.value(targetMask));
    if (parser.isSet(target))
        window.openTargetNpy(parser.value(target));
    window.show();
    return app->exec();
}
