// What the views draw, checked number by number: the PlotData of `attnsteer-cli plot`
// (buildPlotData) and of the window (its engine's results and MainWindow::plotData()) against the
// long-double reference (tests/reference.h), which shares no code with core's steering. A flipped
// sign of lambda, A and A' swapped, or the steered-heads rule dropped in any of them fails here;
// the picture checks of tst_plots and tst_gui only count colours.
#include "gui_support.h"
#include "per_token_plot.h"
#include "reference.h"
#include "saliency_grid_plot.h"
#include "scenario_plot_data.h"
#include "test_support.h"

#include "attnsteer/backend.h"
#include "attnsteer/npy.h"
#include "attnsteer/simulated_saliency.h"
#include "attnsteer/transformer_block.h"

#include "sci_spin_box.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLineEdit>
#include <QSpinBox>
#include <QTemporaryDir>
#include <QtTest>

#include <algorithm>
#include <cmath>

using namespace attnsteer;
using guisupport::kTimeoutMs;
using guisupport::settled;

namespace {

constexpr int kHeads = 3, kQueries = 24, kKeys = 48;
/// Rows of A' from the backends and views against the long-double reference: probabilities of
/// order 1/K computed in double (a few ulps each), so far tighter than the metrics' contract.
constexpr double kRowTolerance = 1e-12;

/// Element-wise |actual - expected| <= kRowTolerance, with the first difference as the message.
bool closeRows(std::span<const double> actual, std::span<const double> expected, QString* why) {
    if (actual.size() != expected.size()) {
        *why = QStringLiteral("size %1, expected %2").arg(actual.size()).arg(expected.size());
        return false;
    }
    for (std::size_t k = 0; k < actual.size(); ++k)
        if (!(std::abs(actual[k] - expected[k]) <= kRowTolerance)) {
            *why = QStringLiteral("key %1: %2, expected %3")
                       .arg(k)
                       .arg(actual[k], 0, 'g', 17)
                       .arg(expected[k], 0, 'g', 17);
            return false;
        }
    return true;
}

#define COMPARE_ROWS(actual, expected)                                                             \
    do {                                                                                           \
        QString why;                                                                               \
        QVERIFY2(closeRows(actual, expected, &why), qPrintable(why));                              \
    } while (false)

/// The metrics contract (kMetricsTolerance in README): relative, with a floor for values that
/// are 0 up to rounding.
bool withinContract(double actual, double expected, double floor) {
    return std::abs(actual - expected) <= 1e-6 * std::abs(expected) + floor;
}

/// A of (HEAD, QUERY), read straight from the workload's values (softmax in long double).
std::vector<double> originalRow(const Workload& workload, int head, int query) {
    const auto values = workload.rowValues(head, query);
    std::vector<long double> a(values.begin(), values.end());
    if (workload.holdsLogits()) {
        const long double peak = *std::max_element(a.begin(), a.end());
        long double sum = 0;
        for (long double& x : a)
            sum += x = std::exp(x - peak);
        for (long double& x : a)
            x /= sum;
    }
    return {a.begin(), a.end()};
}

/// The scenario every check uses: three heads, only head 1 steered, peaked logits and a strong
/// lambda, so that A and A' differ clearly and an unsteered head is there to be told apart.
Scenario testScenario() {
    Scenario scenario;
    scenario.spec.heads = kHeads, scenario.spec.queries = kQueries, scenario.spec.keys = kKeys;
    scenario.spec.logitStd = 0.7;
    scenario.spec.seed = 5;
    scenario.params.lambda = 1.75;
    scenario.params.eps = 1e-6;
    scenario.params.steeredHeads = {1};
    return scenario;
}

/// Each sweep row against the reference, mean over SEEDS of workloads and saliencies drawn from
/// them as the sweep draws them.
void checkSweep(const std::vector<SweepRow>& rows, const std::vector<double>& lambdas,
                const Scenario& scenario, const std::vector<std::uint64_t>& seeds) {
    QCOMPARE(rows.size(), lambdas.size());
    for (std::size_t i = 0; i < rows.size(); ++i) {
        double reduction = 0, kl = 0;
        for (std::uint64_t seed : seeds) {
            WorkloadSpec spec = scenario.spec;
            spec.seed = seed;
            const Workload workload = Workload::generate(spec);
            const auto saliency = testsupport::defaultSaliency(kKeys, seed);
            const reference::Result expected = reference::evaluate(
                workload, saliency, lambdas[i], scenario.params.eps, scenario.params.steeredHeads);
            reduction += expected.reductionPct / double(seeds.size());
            kl += expected.kl / double(seeds.size());
        }
        QCOMPARE(rows[i].lambda, lambdas[i]);
        QVERIFY2(withinContract(rows[i].reductionMean, reduction, 1e-12),
                 qPrintable(QStringLiteral("lambda %1: reduction %2, expected %3")
                                .arg(lambdas[i])
                                .arg(rows[i].reductionMean)
                                .arg(reduction)));
        QVERIFY2(withinContract(rows[i].klMean, kl, 1e-15),
                 qPrintable(QStringLiteral("lambda %1: KL %2, expected %3")
                                .arg(lambdas[i])
                                .arg(rows[i].klMean)
                                .arg(kl)));
    }
}

/// The matrix of HEAD (first QUERIES rows, A' or A' - A) against the reference.
void checkMatrix(std::span<const double> matrix, int queries, const Workload& workload,
                 std::span<const double> saliency, const SteeringParams& params, int head,
                 bool difference) {
    QCOMPARE(matrix.size(), std::size_t(queries) * kKeys);
    const bool steered = params.steeredHeads.empty() ||
                         std::find(params.steeredHeads.begin(), params.steeredHeads.end(), head) !=
                             params.steeredHeads.end();
    for (int q = 0; q < queries; ++q) {
        const std::vector<double> a = originalRow(workload, head, q);
        std::vector<double> expected =
            steered ? reference::steeredRow(a, saliency, params.lambda, params.eps) : a;
        if (difference)
            for (int k = 0; k < kKeys; ++k)
                expected[std::size_t(k)] -= a[std::size_t(k)];
        COMPARE_ROWS(matrix.subspan(std::size_t(q) * kKeys, kKeys), expected);
    }
}

} // namespace

class TestPlotData : public QObject {
    Q_OBJECT

  private slots:
    void initTestCase() {
        QVERIFY(settingsDir_.isValid());
        QCoreApplication::setOrganizationName(QStringLiteral("AttnSteerTest"));
        QCoreApplication::setApplicationName(QStringLiteral("tst_plot_data"));
        QSettings::setDefaultFormat(QSettings::IniFormat);
        QSettings::setPath(QSettings::IniFormat, QSettings::UserScope, settingsDir_.path());
    }

    /// `attnsteer-cli plot` of the synthetic sample dump: the model's grid from its sidecar, the
    /// tokens, and the sidecar's picture under the grid.
    void commandLinePlotDataOfTheSampleDump() {
        Scenario scenario;
        scenario.attentionPath = ATTNSTEER_RESOURCES_DIR "/samples/synthetic-dump.safetensors";
        scenario.layer = 2;
        const PreparedScenario prepared = prepareScenario(scenario);
        auto backend = makeCpuBackend(1);
        PlotRequest request;
        request.head = 2;
        request.query = 125;
        request.sweepLambdas = {0.0, 1.0};
        request.sweepSeeds = {0};
        std::vector<std::string> warnings;
        const PlotData data =
            buildPlotData(scenario, prepared, *backend, scenario.params, request, &warnings);
        QCOMPARE(warnings, std::vector<std::string>{});
        QVERIFY(data.modelGrid);
        QCOMPARE(data.gridHeight, 8);
        QCOMPARE(data.gridWidth, 12);
        QCOMPARE(data.visionStart, 4);
        QCOMPARE(int(data.tokens.size()), 126);
        QCOMPARE(data.image.size(), QSize(504, 336));
        COMPARE_ROWS(data.attention, originalRow(prepared.workload, 2, 125));
    }

    /// `attnsteer-cli plot`'s data: the row, the matrix (A' and A' - A), the sweep, for a steered
    /// and an unsteered head.
    void commandLinePlotData_data() {
        QTest::addColumn<int>("head");
        QTest::addColumn<bool>("difference");
        QTest::newRow("steered head, A'") << 1 << false;
        QTest::newRow("steered head, A' - A") << 1 << true;
        QTest::newRow("unsteered head, A'") << 2 << false;
        QTest::newRow("unsteered head, A' - A") << 0 << true;
    }
    void commandLinePlotData() {
        QFETCH(int, head);
        QFETCH(bool, difference);
        const Scenario scenario = testScenario();
        const PreparedScenario prepared = prepareScenario(scenario);
        auto backend = makeCpuBackend(1);
        PlotRequest request;
        request.head = head;
        request.query = 7;
        request.sweepLambdas = {0.0, 0.5, 2.5, 6.0};
        request.sweepSeeds = {5, 6};
        request.difference = difference;
        const PlotData data = buildPlotData(scenario, prepared, *backend, scenario.params, request);

        const Workload& workload = prepared.workload;
        const std::vector<double>& s = prepared.saliency.values;
        QCOMPARE(data.saliency, s);
        QCOMPARE(data.lambda, scenario.params.lambda);
        const std::vector<double> a = originalRow(workload, head, 7);
        COMPARE_ROWS(data.attention, a);
        COMPARE_ROWS(data.steered, head == 1 ? reference::steeredRow(a, s, scenario.params.lambda,
                                                                     scenario.params.eps)
                                             : a);
        QCOMPARE(data.matrixKeys, kKeys);
        QCOMPARE(data.matrixQueries, kQueries);
        QCOMPARE(data.matrixIsDifference, difference);
        checkMatrix(data.matrix, data.matrixQueries, workload, s, scenario.params, head,
                    difference);
        checkSweep(data.sweep, request.sweepLambdas, scenario, request.sweepSeeds);
        QCOMPARE(data.sweepSeeds, 2);
    }

    /// `attnsteer-cli plot` with the entropy gate: the matrix's rows below tau keep A' = A
    /// exactly, the others are steered; the per-token row follows the same rule.
    void commandLinePlotDataGatesRows() {
        Scenario scenario = testScenario();
        const PreparedScenario prepared = prepareScenario(scenario);
        const Workload& workload = prepared.workload;
        std::vector<double> entropies;
        for (int q = 0; q < kQueries; ++q)
            entropies.push_back(testsupport::normalizedEntropy(originalRow(workload, 1, q)));
        scenario.params.gateEntropy = testsupport::gateBetween(entropies);
        QVERIFY(scenario.params.gateEntropy > 0);
        auto backend = makeCpuBackend(1);
        PlotRequest request;
        request.head = 1;
        request.sweepLambdas = {0.0, 1.0};
        request.sweepSeeds = {5};
        const std::vector<double>& s = prepared.saliency.values;
        int steeredRows = 0;
        for (int q : {0, 1}) {
            // A row below the gate and one above it, in the per-token view.
            request.query = int(
                std::find_if(entropies.begin(), entropies.end(),
                             [&](double e) { return (e >= scenario.params.gateEntropy) == q; }) -
                entropies.begin());
            const PlotData data =
                buildPlotData(scenario, prepared, *backend, scenario.params, request);
            std::vector<double> a(kKeys);
            workload.attentionRow(1, request.query, a);
            if (q == 0)
                QCOMPARE(data.steered, a);
            else
                COMPARE_ROWS(data.steered, reference::steeredRow(a, s, scenario.params.lambda,
                                                                 scenario.params.eps));
            if (q == 1)
                continue;
            for (int row = 0; row < kQueries; ++row) {
                workload.attentionRow(1, row, a);
                const std::span<const double> shown =
                    std::span<const double>(data.matrix).subspan(std::size_t(row) * kKeys, kKeys);
                if (entropies[std::size_t(row)] < scenario.params.gateEntropy) {
                    QVERIFY(std::equal(shown.begin(), shown.end(), a.begin())); // exactly A
                } else {
                    ++steeredRows;
                    COMPARE_ROWS(shown, reference::steeredRow(a, s, scenario.params.lambda,
                                                              scenario.params.eps));
                }
            }
        }
        QVERIFY(steeredRows > 0 && steeredRows < kQueries);
        // The metrics count the same rows (head 1; heads 0 and 2 are not steered).
        const Metrics metrics = backend->evaluate(workload, s, scenario.params);
        QVERIFY(std::abs(metrics.heads[1].rowsSteeredFraction - double(steeredRows) / kQueries) <
                1e-15);
        QCOMPARE(metrics.heads[0].rowsSteeredFraction, 0.0);
    }

    /// The window's data: what its engine computed (row, matrix of A' for the lambda shown, the
    /// tradeoff sweep) and what MainWindow::plotData() hands to the views and to export.
    void windowPlotData() {
        const Scenario scenario = testScenario();
        auto window = std::make_unique<MainWindow>();
        window->setSuppressMessageBoxes(true);
        window->setWorkloadSize(kHeads, kQueries, kKeys);
        window->resize(1400, 900);
        window->show();
        QVERIFY(QTest::qWaitForWindowExposed(window.get()));
        QTRY_VERIFY_WITH_TIMEOUT(settled(*window), kTimeoutMs);
        const auto& c = window->controls();
        c.sigma->setValue(scenario.spec.logitStd);
        c.seed->setValue(int(scenario.spec.seed));
        c.eps->setValue(scenario.params.eps);
        c.steeredHeads->setText(QStringLiteral("1"));
        QTest::keyClick(c.steeredHeads, Qt::Key_Return);
        c.head->setValue(1);
        c.query->setValue(7);
        c.sweepSeeds->setValue(2);
        window->setLambda(scenario.params.lambda);
        QTRY_VERIFY_WITH_TIMEOUT(
            settled(*window) && window->engine()->lastRows()->request.head == 1 &&
                window->engine()->lastRows()->request.query == 7 &&
                window->engine()->lastSweep()->seeds.size() == 2 &&
                window->engine()->lastSweep()->params.steeredHeads == std::vector<int>{1} &&
                window->engine()->dataSet()->scenario.spec.logitStd == scenario.spec.logitStd,
            kTimeoutMs);

        const Engine& engine = *window->engine();
        const DataSet& data = *engine.dataSet();
        QCOMPARE(data.scenario.spec.seed, scenario.spec.seed);
        const Workload& workload = *data.workload;
        const std::vector<double>& s = data.saliency.values;
        QCOMPARE(s, testsupport::defaultSaliency(kKeys, scenario.spec.seed));
        const RowsResult& rows = *engine.lastRows();
        QCOMPARE(rows.request.params.eps, scenario.params.eps);
        const std::vector<double> a = originalRow(workload, 1, 7);
        const std::vector<double> steered =
            reference::steeredRow(a, s, scenario.params.lambda, scenario.params.eps);
        COMPARE_ROWS(rows.row.original, a);
        COMPARE_ROWS(rows.row.steered, steered);
        checkMatrix(*rows.matrixSteered, rows.queries, workload, s, scenario.params, 1, false);
        checkSweep(engine.lastSweep()->rows, engine.sweepLambdas(), scenario, {5, 6});
        const reference::Result expected = reference::evaluate(
            workload, s, scenario.params.lambda, scenario.params.eps, scenario.params.steeredHeads);
        QVERIFY(withinContract(engine.lastEvaluation()->metrics.total.kl, expected.kl, 1e-15));

        // What the views draw and "Export all" writes.
        const PlotData shown = window->plotData();
        COMPARE_ROWS(shown.attention, a);
        COMPARE_ROWS(shown.steered, steered);
        QCOMPARE(shown.saliency, s);
        checkMatrix(shown.matrix, shown.matrixQueries, workload, s, scenario.params, 1, false);
        QCOMPARE(shown.sweep.size(), engine.lastSweep()->rows.size());
        checkSweep(shown.sweep, engine.sweepLambdas(), scenario, {5, 6});

        // A' - A in the matrix view; an unsteered head shows A (and 0 as the difference).
        c.showDifference->setChecked(true);
        QTRY_VERIFY_WITH_TIMEOUT(window->plotData().matrixIsDifference, kTimeoutMs);
        checkMatrix(window->plotData().matrix, kQueries, workload, s, scenario.params, 1, true);
        c.head->setValue(2);
        QTRY_VERIFY_WITH_TIMEOUT(settled(*window) && engine.lastRows()->request.head == 2,
                                 kTimeoutMs);
        const PlotData unsteered = window->plotData();
        COMPARE_ROWS(unsteered.steered, unsteered.attention);
        checkMatrix(unsteered.matrix, unsteered.matrixQueries, workload, s, scenario.params, 2,
                    true);
    }

    /// A dump of three layers in the window: "All layers" shows the means over the layers of A
    /// and of A' (each layer's A' against the reference), one layer shows its own rows; the
    /// image view's query means; the model's grid and the token texts from the sidecar.
    void windowPlotDataOfLayers() {
        QTemporaryDir dir;
        constexpr int kLayers = 3;
        // Probabilities with a causal mask (zeros), as a model's dump has them.
        std::vector<float> values(std::size_t(kLayers) * kHeads * kQueries * kKeys, 0.0f);
        for (int l = 0; l < kLayers; ++l)
            for (int h = 0; h < kHeads; ++h)
                for (int q = 0; q < kQueries; ++q) {
                    const int visible = q + kKeys - kQueries + 1;
                    std::vector<double> row(static_cast<std::size_t>(visible));
                    double sum = 0;
                    for (int k = 0; k < visible; ++k)
                        sum += row[std::size_t(k)] =
                            std::exp(1.5 * std::cos(0.7 * l + 1.1 * h + 0.3 * q + 0.45 * k));
                    for (int k = 0; k < visible; ++k)
                        values[((std::size_t(l) * kHeads + h) * kQueries + q) * kKeys + k] =
                            float(row[std::size_t(k)] / sum);
                }
        const QString path = dir.filePath(QStringLiteral("layers.npy"));
        const std::size_t shape[] = {kLayers, kHeads, kQueries, kKeys};
        writeNpy(path.toStdString(), shape, values);
        QJsonObject meta;
        QStringList tokens;
        for (int k = 0; k < kKeys; ++k)
            tokens << (k >= 10 && k < 18 ? QStringLiteral("<|image_pad|>")
                                         : QStringLiteral("t%1").arg(k));
        meta.insert(QStringLiteral("tokens"), QJsonArray::fromStringList(tokens));
        meta.insert(QStringLiteral("vision_start"), 10);
        meta.insert(QStringLiteral("image_grid_thw"), QJsonArray{1, 4, 8});
        QFile json(dir.filePath(QStringLiteral("layers.json")));
        QVERIFY(json.open(QIODevice::WriteOnly));
        json.write(QJsonDocument(meta).toJson());
        json.close();

        const Scenario scenario = testScenario();
        auto window = std::make_unique<MainWindow>();
        window->setSuppressMessageBoxes(true);
        window->setWorkloadSize(kHeads, kQueries, kKeys);
        window->resize(1400, 900);
        window->show();
        QVERIFY(QTest::qWaitForWindowExposed(window.get()));
        QTRY_VERIFY_WITH_TIMEOUT(settled(*window), kTimeoutMs);
        const auto& c = window->controls();
        c.eps->setValue(scenario.params.eps);
        c.steeredHeads->setText(QStringLiteral("1"));
        QTest::keyClick(c.steeredHeads, Qt::Key_Return);
        window->setLambda(scenario.params.lambda);
        window->openNpy(path, MainWindow::NpyKind::Attention);
        c.head->setValue(1);
        c.query->setValue(7);
        c.imageMode->setCurrentIndex(c.imageMode->findData(int(ImageMode::Steered)));
        QTRY_VERIFY_WITH_TIMEOUT(
            settled(*window) && window->engine()->dataSet()->scenario.hasWorkloadFile() &&
                window->engine()->lastRows()->request.head == 1 &&
                window->engine()->lastRows()->request.query == 7 &&
                window->engine()->lastRows()->request.params.steeredHeads == std::vector<int>{1},
            kTimeoutMs);
        // Kept: a new layer replaces the engine's data set and rows.
        const std::shared_ptr<const DataSet> data = window->engine()->dataSet();
        const Workload& full = *data->fullWorkload;
        const std::vector<double>& s = data->saliency.values;
        const SteeringParams params = window->engine()->lastRows()->request.params;
        QCOMPARE(params.lambda, scenario.params.lambda);
        QCOMPARE(params.eps, scenario.params.eps);

        // All layers: means over the three layers, each layer's A' from the reference.
        const auto meanOverLayers = [&](int head, int query, bool steered) {
            std::vector<double> mean(kKeys, 0.0);
            for (int l = 0; l < kLayers; ++l) {
                const std::vector<double> a = originalRow(full, full.unitOf(l, head), query);
                const std::vector<double> row =
                    steered ? reference::steeredRow(a, s, params.lambda, params.eps) : a;
                for (int k = 0; k < kKeys; ++k)
                    mean[std::size_t(k)] += row[std::size_t(k)] / kLayers;
            }
            return mean;
        };
        PlotData shown = window->plotData();
        QCOMPARE(shown.layersAveraged, 3);
        QCOMPARE(shown.layer, -1);
        COMPARE_ROWS(shown.attention, meanOverLayers(1, 7, false));
        COMPARE_ROWS(shown.steered, meanOverLayers(1, 7, true));
        QCOMPARE(shown.matrixQueries, kQueries);
        for (int q = 0; q < kQueries; q += 5)
            COMPARE_ROWS(
                std::span<const double>(shown.matrix).subspan(std::size_t(q) * kKeys, kKeys),
                meanOverLayers(1, q, true));
        std::vector<double> queryMean(kKeys, 0.0);
        for (int q = 0; q < kQueries; ++q) {
            const std::vector<double> row = meanOverLayers(1, q, true);
            for (int k = 0; k < kKeys; ++k)
                queryMean[std::size_t(k)] += row[std::size_t(k)] / kQueries;
        }
        COMPARE_ROWS(shown.queryMeanSteered, queryMean);
        QCOMPARE(shown.queryMeanRows, kQueries);
        QCOMPARE(shown.imageMode, ImageMode::Steered);
        // The sidecar: the model's 2 x 4 grid from key 10, the token texts.
        QVERIFY(shown.modelGrid);
        QCOMPARE(shown.gridHeight, 2);
        QCOMPARE(shown.gridWidth, 4);
        QCOMPARE(shown.gridOffset, 10);
        QCOMPARE(shown.visionStart, 10);
        QCOMPARE(shown.visionTokens, 8);
        QCOMPARE(int(shown.tokens.size()), kKeys);
        QCOMPARE(shown.tokens[3], QStringLiteral("t3"));
        for (int k = 10; k < 18; ++k)
            QCOMPARE(window->saliencyGridPlot()->shownValue(k), shown.steered[std::size_t(k)]);

        // Layer 2 alone: its own rows.
        c.layer->setCurrentIndex(c.layer->findData(2));
        QTRY_VERIFY_WITH_TIMEOUT(
            settled(*window) && window->engine()->dataSet()->workload->layers() == 1, kTimeoutMs);
        shown = window->plotData();
        QCOMPARE(shown.layer, 2);
        QCOMPARE(shown.layersAveraged, 1);
        const std::vector<double> a = originalRow(full, full.unitOf(2, 1), 7);
        COMPARE_ROWS(shown.attention, a);
        COMPARE_ROWS(shown.steered, reference::steeredRow(a, s, params.lambda, params.eps));
        checkMatrix(shown.matrix, shown.matrixQueries, *window->engine()->dataSet()->workload, s,
                    params, 1, false);
        // An unsteered head of that layer: A' = A.
        c.head->setValue(0);
        QTRY_VERIFY_WITH_TIMEOUT(
            settled(*window) && window->engine()->lastRows()->request.head == 0, kTimeoutMs);
        shown = window->plotData();
        COMPARE_ROWS(shown.steered, originalRow(full, full.unitOf(2, 0), 7));

        // All layers again, head 1 steered in layers 0 and 2 only, with the entropy gate: each
        // layer's row is steered when its head is steered in that layer and its normalized
        // entropy passes tau, else it keeps A; the views show the mean over the layers.
        std::vector<double> entropies;
        for (int l : {0, 2})
            for (int q = 0; q < kQueries; ++q)
                entropies.push_back(
                    testsupport::normalizedEntropy(originalRow(full, full.unitOf(l, 1), q)));
        const double tau = testsupport::gateBetween(entropies);
        QVERIFY(tau > 0);
        c.layer->setCurrentIndex(c.layer->findData(-1));
        c.steeredHeads->setText(QStringLiteral("L0H1, L2H1"));
        QTest::keyClick(c.steeredHeads, Qt::Key_Return);
        c.gateEntropy->setValue(tau);
        c.head->setValue(1);
        QTRY_VERIFY_WITH_TIMEOUT(
            settled(*window) && window->engine()->dataSet()->workload->layers() == kLayers &&
                window->engine()->lastRows()->request.head == 1 &&
                window->engine()->lastRows()->request.params.gateEntropy == tau,
            kTimeoutMs);
        const auto gatedMean = [&](int query) {
            std::vector<double> mean(kKeys, 0.0);
            for (int l = 0; l < kLayers; ++l) {
                const std::vector<double> a = originalRow(full, full.unitOf(l, 1), query);
                const bool steered = l != 1 && testsupport::normalizedEntropy(a) >= tau;
                const std::vector<double> row =
                    steered ? reference::steeredRow(a, s, params.lambda, params.eps) : a;
                for (int k = 0; k < kKeys; ++k)
                    mean[std::size_t(k)] += row[std::size_t(k)] / kLayers;
            }
            return mean;
        };
        shown = window->plotData();
        COMPARE_ROWS(shown.steered, gatedMean(7));
        for (int q = 0; q < kQueries; ++q)
            COMPARE_ROWS(
                std::span<const double>(shown.matrix).subspan(std::size_t(q) * kKeys, kKeys),
                gatedMean(q));
        // Rows steered: those of head 1 in layers 0 and 2 that pass the gate, of every row.
        const auto passing =
            std::count_if(entropies.begin(), entropies.end(), [&](double e) { return e >= tau; });
        QVERIFY(std::abs(window->engine()->lastEvaluation()->metrics.total.rowsSteeredFraction -
                         double(passing) / (kLayers * kHeads * kQueries)) < 1e-15);
    }

    /// The model's grid (a sidecar) wins over the saliency image's own; its picture over the
    /// saliency image; without one, the saliency image is drawn under the model's grid.
    void assembledModelGrid() {
        RawSaliency raw;
        raw.label = "map.png";
        raw.values.assign(kKeys, 0.5);
        SaliencyProjection projection;
        projection.gridHeight = 5, projection.gridWidth = 5;
        projection.resizedHeight = 140, projection.resizedWidth = 140;
        raw.projection = projection;
        raw.image = QImage(20, 20, QImage::Format_RGB32);
        raw.image.fill(Qt::white);
        QImage picture(30, 20, QImage::Format_RGB32);
        picture.fill(Qt::red);
        DumpMeta meta;
        meta.tokens.assign(kKeys, "x");
        PlotSources sources;
        sources.raw = &raw;
        sources.image = raw.image;
        sources.saliency = raw.values;
        sources.visionOffset = 6;
        sources.grid = ImageGrid{2, 3, 4};
        sources.meta = &meta;
        sources.metaImage = picture;
        PlotData data = assemblePlotData(sources);
        QVERIFY(data.modelGrid);
        QCOMPARE(data.gridHeight, 3);
        QCOMPARE(data.gridWidth, 4);
        QCOMPARE(data.gridOffset, 6);
        QCOMPARE(data.visionStart, 6);
        QCOMPARE(data.visionTokens, 24);
        QCOMPARE(data.image.cacheKey(), picture.cacheKey());
        QCOMPARE(int(data.tokens.size()), kKeys);
        QCOMPARE(gridCaption(data),
                 QStringLiteral("model's grid 3 x 4 = 12 vision tokens from key 6, frame 1 of 2"));
        sources.metaImage = QImage();
        data = assemblePlotData(sources);
        QCOMPARE(data.image.cacheKey(), raw.image.cacheKey());
        // No model grid: the saliency image's grid, as before.
        sources.grid = ImageGrid{};
        data = assemblePlotData(sources);
        QVERIFY(!data.modelGrid);
        QCOMPARE(data.gridHeight, 5);
        QCOMPARE(data.gridOffset, 6);
        QCOMPARE(data.visionStart, -1);
        QCOMPARE(gridCaption(data), QStringLiteral("grid 5 x 5 = 25 tokens, resized 140 x 140"));
    }

    /// `attnsteer-cli plot --workload transformer`: the block's vision span on the model's grid,
    /// its planted object as the target (marked and outlined by the views), the simulated vision
    /// model's saliency, the row of the block.
    void commandLinePlotDataOfTheTransformer() {
        const Scenario scenario = transformerScenario();
        const PreparedScenario prepared = prepareScenario(scenario);
        QVERIFY(prepared.workload.transformer());
        const TransformerLayout& layout = prepared.workload.transformer()->layout();
        auto backend = makeCpuBackend(1);
        PlotRequest request;
        request.head = 4, request.query = 15;
        request.sweepLambdas = {0.0, 2.0};
        request.sweepSeeds = {3};
        const PlotData data = buildPlotData(scenario, prepared, *backend, scenario.params, request);
        checkTransformerData(data, layout, scenario);
        COMPARE_ROWS(data.attention, originalRow(prepared.workload, 4, 15));
        // The sweep measures the task: pointing at each lambda (the planted object per seed).
        QCOMPARE(data.sweep.size(), std::size_t(2));
        QCOMPARE(data.sweep[0].pointingGainMean, 0.0);
        QVERIFY(std::isfinite(data.sweep[1].pointingMean));
    }

    /// The same in the window: its engine prepares the transformer's data set itself; the
    /// views get what prepareScenario gives.
    void windowPlotDataOfTheTransformer() {
        const Scenario scenario = transformerScenario();
        auto window = std::make_unique<MainWindow>();
        window->setSuppressMessageBoxes(true);
        window->setWorkloadSize(scenario.spec.heads, scenario.spec.queries, scenario.spec.keys);
        window->controls().seed->setValue(int(scenario.spec.seed));
        window->controls().saliencyQuality->setValue(scenario.simulatedSaliency.quality);
        window->setWorkloadKind(WorkloadKind::Transformer);
        window->resize(1400, 900);
        window->show();
        QVERIFY(QTest::qWaitForWindowExposed(window.get()));
        QTRY_VERIFY_WITH_TIMEOUT(
            settled(*window) && window->engine()->dataSet()->scenario.isTransformer(), kTimeoutMs);
        const PreparedScenario prepared = prepareScenario(window->engine()->dataSet()->scenario);
        const TransformerLayout& layout = prepared.workload.transformer()->layout();
        const PlotData shown = window->plotData();
        checkTransformerData(shown, layout, scenario);
        COMPARE_ROWS(shown.attention, originalRow(prepared.workload, shown.head, shown.query));
        // What the views were given.
        std::vector<int> target;
        for (int key = 0; key < layout.keys; ++key)
            if (layout.isTarget(key))
                target.push_back(key);
        QCOMPARE(window->perTokenPlot()->markedTargetTokens(), target);
        QCOMPARE(
            window->saliencyGridPlot()->targetOutlineSegments(),
            targetOutline(shown.target, layout.visionOffset, layout.grid.rows, layout.grid.cols));
    }

  private:
    /// A small transformer workload: 8 heads (two image-focused), the last 16 of 400 tokens
    /// asking, a 15 x 15 grid from key 43 with a 3 x 3 object; seed 3, saliency quality 0.6.
    static Scenario transformerScenario() {
        Scenario scenario;
        scenario.spec.kind = WorkloadKind::Transformer;
        scenario.spec.heads = 8, scenario.spec.queries = 16, scenario.spec.keys = 400;
        scenario.spec.seed = 3;
        scenario.simulatedSaliency.quality = 0.6;
        return scenario;
    }

    /// DATA shows the block of LAYOUT: its grid and vision span, its object, its saliency.
    static void checkTransformerData(const PlotData& data, const TransformerLayout& layout,
                                     const Scenario& scenario) {
        QCOMPARE(layout.grid.rows, 15);
        QCOMPARE(layout.visionOffset, 43);
        QVERIFY(data.modelGrid);
        QCOMPARE(data.gridHeight, layout.grid.rows);
        QCOMPARE(data.gridWidth, layout.grid.cols);
        QCOMPARE(data.gridOffset, layout.visionOffset);
        QCOMPARE(data.visionStart, layout.visionOffset);
        QCOMPARE(data.visionTokens, layout.visionTokens());
        QCOMPARE(data.target, layout.targetFlags());
        QCOMPARE(std::count(data.target.begin(), data.target.end(), 1), 9);
        // The outline the image view draws: the object's rectangle.
        const std::vector<QLineF> outline =
            targetOutline(data.target, data.gridOffset, data.gridHeight, data.gridWidth);
        const double left = layout.targetLeft, top = layout.targetTop;
        const double right = left + layout.targetCols, bottom = top + layout.targetRows;
        QCOMPARE(outline, (std::vector<QLineF>{
                              QLineF(left, top, right, top), QLineF(left, bottom, right, bottom),
                              QLineF(left, top, left, bottom), QLineF(right, top, right, bottom)}));
        const std::vector<double> s =
            normalizeSaliency(
                simulatedSaliencyRaw(layout, scenario.simulatedSaliency, scenario.spec.seed),
                scenario.normalization)
                .values;
        QCOMPARE(data.saliency, s);
        QCOMPARE(data.saliencyLabel, QStringLiteral("simulated, quality 0.6, seed 3"));
    }

    QTemporaryDir settingsDir_;
};

QTEST_MAIN(TestPlotData)
#include "tst_plot_data.moc"
