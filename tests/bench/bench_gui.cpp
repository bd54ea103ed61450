// GUI latency: how long a lambda change takes to reach the screen in the window on the default
// workload (32 x 1024 x 1024). Each iteration moves lambda (alternating between two values) and
// processes events until everything shows the new lambda: the evaluation in the readout, the
// per-token row and the matrix of A' replotted, the tradeoff marker replotted. Wall time per
// iteration (UseRealTime); the target is 100 ms on the project's 2-core machines.
//
//   build/tests/bench/bench_gui [--benchmark_repetitions=N] [--keys=K --queries=Q --heads=H]
//
// Runs offscreen unless QT_QPA_PLATFORM says otherwise.
#include "engine.h"
#include "main_window.h"
#include "matrix_plot.h"
#include "per_token_plot.h"
#include "tradeoff_plot.h"

#include <benchmark/benchmark.h>
#include <qcustomplot.h>

#include <QApplication>
#include <QDoubleSpinBox>
#include <QElapsedTimer>
#include <QPlainTextEdit>
#include <QSettings>
#include <QTemporaryDir>
#include <QTimer>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

using namespace attnsteer;

namespace {

int gHeads = 32, gQueries = 1024, gKeys = 1024;

/// Counts what the window did, in the order it happened.
struct Tracker {
    std::uint64_t clock = 0;
    std::uint64_t rowsAt = 0, evaluationAt = 0;
    std::uint64_t perTokenReplotAt = 0, matrixReplotAt = 0, tradeoffReplotAt = 0;
    double rowsMs = 0, evaluationMs = 0;
};

/// Processes events until DONE() or TIMEOUT_MS; false on timeout.
template <typename Done> bool processUntil(Done done, int timeoutMs) {
    QElapsedTimer timer;
    timer.start();
    // A timer that wakes the loop now and then, so that WaitForMoreEvents never waits forever.
    QTimer wake;
    wake.start(20);
    while (!done()) {
        if (timer.elapsed() > timeoutMs)
            return false;
        QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents);
    }
    return true;
}

/// Whether the window shows LAMBDA everywhere: results of the current data set for LAMBDA, the
/// readout written, and every view replotted after its data arrived.
bool shows(const MainWindow& window, const Tracker& t, double lambda, std::uint64_t since) {
    const Engine* engine = window.engine();
    const auto data = engine->dataSet();
    const EvaluationResult* evaluation = engine->lastEvaluation();
    const RowsResult* rows = engine->lastRows();
    if (engine->isBusy() || !data || !evaluation || !rows || evaluation->epoch != data->epoch ||
        rows->epoch != data->epoch || evaluation->request.params.lambda != lambda ||
        rows->request.params.lambda != lambda || !engine->lastSweep())
        return false;
    if (t.rowsAt <= since || t.evaluationAt <= since)
        return false;
    return t.perTokenReplotAt > t.rowsAt && t.matrixReplotAt > t.rowsAt &&
           t.tradeoffReplotAt > since &&
           window.metricsText().contains(QStringLiteral("λ = %1").arg(lambda, 0, 'f', 3));
}

void BM_LambdaChangeOnScreen(benchmark::State& state) {
    MainWindow window;
    window.setSuppressMessageBoxes(true);
    window.setWorkloadSize(gHeads, gQueries, gKeys);
    window.resize(1600, 1000);
    Tracker t;
    QObject::connect(window.engine(), &Engine::rowsFinished, [&](const RowsResult& rows) {
        t.rowsAt = ++t.clock;
        t.rowsMs = rows.elapsedMs;
    });
    QObject::connect(window.engine(), &Engine::evaluationFinished,
                     [&](const EvaluationResult& result) {
                         t.evaluationAt = ++t.clock;
                         t.evaluationMs = result.metrics.elapsedMs;
                     });
    QObject::connect(window.perTokenPlot()->customPlot(), &QCustomPlot::afterReplot,
                     [&] { t.perTokenReplotAt = ++t.clock; });
    QObject::connect(window.matrixPlot()->customPlot(), &QCustomPlot::afterReplot,
                     [&] { t.matrixReplotAt = ++t.clock; });
    QObject::connect(window.tradeoffPlot()->customPlot(), &QCustomPlot::afterReplot,
                     [&] { t.tradeoffReplotAt = ++t.clock; });
    window.show();
    const double start = window.lambda();
    if (!processUntil([&] { return shows(window, t, start, 0); }, 300000)) {
        state.SkipWithError("the window did not settle on the first workload");
        return;
    }
    // One lambda change unmeasured: the moments of the evaluation are in place after it.
    double lambda = 0.4;
    auto move = [&](double value) -> bool {
        const std::uint64_t since = ++t.clock;
        window.setLambda(value);
        return processUntil([&] { return shows(window, t, value, since); }, 60000);
    };
    if (!move(lambda)) {
        state.SkipWithError("a lambda change did not reach the screen within 60 s");
        return;
    }
    double rowsMs = 0, evaluationMs = 0;
    std::vector<double> wallMs;
    for (auto _ : state) {
        lambda = lambda == 0.4 ? 0.6 : 0.4;
        QElapsedTimer timer;
        timer.start();
        if (!move(lambda)) {
            state.SkipWithError("a lambda change did not reach the screen within 60 s");
            return;
        }
        wallMs.push_back(double(timer.nsecsElapsed()) / 1e6);
        rowsMs += t.rowsMs, evaluationMs += t.evaluationMs;
    }
    std::sort(wallMs.begin(), wallMs.end());
    const std::size_t n = wallMs.size();
    state.counters["median_ms"] = n % 2 ? wallMs[n / 2] : (wallMs[n / 2 - 1] + wallMs[n / 2]) / 2;
    state.counters["max_ms"] = wallMs.back();
    state.counters["rows_ms"] = rowsMs / double(n);
    state.counters["evaluation_ms"] = evaluationMs / double(n);
    // QCustomPlot's own average replot times of the views that follow lambda.
    state.counters["per_token_replot_ms"] = window.perTokenPlot()->customPlot()->replotTime(true);
    state.counters["matrix_replot_ms"] = window.matrixPlot()->customPlot()->replotTime(true);
    state.counters["tradeoff_replot_ms"] = window.tradeoffPlot()->customPlot()->replotTime(true);
    state.SetLabel(std::to_string(gHeads) + "x" + std::to_string(gQueries) + "x" +
                   std::to_string(gKeys));
    window.close();
}
BENCHMARK(BM_LambdaChangeOnScreen)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(20)
    ->Repetitions(1);

/// Takes --heads=, --queries=, --keys= out of ARGV (Google Benchmark refuses unknown flags).
void takeSizeFlags(int& argc, char** argv) {
    int kept = 1;
    for (int i = 1; i < argc; ++i) {
        int* target = nullptr;
        const char* value = nullptr;
        for (auto [flag, slot] : {std::pair{"--heads=", &gHeads},
                                  std::pair{"--queries=", &gQueries}, std::pair{"--keys=", &gKeys}})
            if (std::strncmp(argv[i], flag, std::strlen(flag)) == 0)
                target = slot, value = argv[i] + std::strlen(flag);
        if (target)
            *target = std::max(1, std::atoi(value));
        else
            argv[kept++] = argv[i];
    }
    argc = kept;
}

} // namespace

int main(int argc, char** argv) {
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    takeSizeFlags(argc, argv);
    QApplication app(argc, argv);
    // A throwaway settings scope: the window starts from its defaults and leaves nothing behind.
    QTemporaryDir settingsDir;
    QCoreApplication::setOrganizationName(QStringLiteral("AttnSteerBench"));
    QCoreApplication::setApplicationName(QStringLiteral("bench_gui"));
    QSettings::setDefaultFormat(QSettings::IniFormat);
    QSettings::setPath(QSettings::IniFormat, QSettings::UserScope, settingsDir.path());
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv))
        return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
