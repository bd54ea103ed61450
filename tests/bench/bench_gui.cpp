// GUI latency: how long a lambda change takes to reach the screen in the window on the default
// workload (32 x 1024 x 1024), and what a dragged slider shows.
//
// - BM_LambdaChangeOnScreen/L: lambda moves by small steps around L / 100 (0.25, 4 and 20; one
//   step of a drag), and events are processed until everything shows the new lambda: the
//   evaluation in the readout, the per-token row and the matrix of A' drawn, the tradeoff marker
//   drawn. Wall time per change; median and largest, and what took how long.
// - BM_Drag: the slider dragged at 60 Hz for two seconds (a move every 16.7 ms from lambda 0.25
//   up); counts the distinct lambdas the per-token view drew per second and how long after the
//   last move everything showed the last lambda.
// - BM_PerTokenReplot, BM_MatrixReplot: one view's work after a lambda change, alone.
//
//   build/tests/bench/bench_gui [--benchmark_filter=...] [--keys=K --queries=Q --heads=H]
//
// Runs offscreen unless QT_QPA_PLATFORM says otherwise (under Xvfb: QT_QPA_PLATFORM=xcb).
#include "engine.h"
#include "main_window.h"
#include "matrix_plot.h"
#include "per_token_plot.h"
#include "tradeoff_plot.h"

#include "attnsteer/backend.h"

#include <benchmark/benchmark.h>
#include <qcustomplot.h>

#include <QApplication>
#include <QDoubleSpinBox>
#include <QElapsedTimer>
#include <QPlainTextEdit>
#include <QSettings>
#include <QSlider>
#include <QTemporaryDir>
#include <QTimer>

#include <algorithm>
#include <cmath>
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
    std::uint64_t matrixReplotAt = 0, tradeoffReplotAt = 0;
    double rowsMs = 0, evaluationMs = 0;
    /// The lambda of the rows the per-token view and the matrix drew last.
    double perTokenLambda = std::nan(""), matrixLambda = std::nan("");
    QElapsedTimer wall; ///< since the tracker was made
    /// Wall times (ms) of the last rows result, per-token drawing, matrix replot, tradeoff
    /// drawing.
    double rowsWall = 0, perTokenWall = 0, matrixWall = 0, tradeoffWall = 0;
    double now() const { return double(wall.nsecsElapsed()) / 1e6; }
    /// Wall time (ms) at which each new lambda of the per-token row was drawn.
    std::vector<std::pair<double, double>> drawn;
};

/// Connects T to WINDOW's engine and views.
void track(MainWindow& window, Tracker& t) {
    t.wall.start();
    QObject::connect(window.engine(), &Engine::rowsFinished, [&t](const RowsResult& rows) {
        t.rowsAt = ++t.clock;
        t.rowsWall = t.now();
        t.rowsMs = rows.elapsedMs;
    });
    QObject::connect(window.engine(), &Engine::evaluationFinished,
                     [&t](const EvaluationResult& result) {
                         t.evaluationAt = ++t.clock;
                         t.evaluationMs = result.metrics.elapsedMs;
                     });
    // The per-token view draws a new lambda of its row either by drawing A''s layer alone (at
    // once, while the window handles the rows) or by a replot (queued): both count, with the
    // lambda of the rows the engine handed over.
    const auto perTokenDrawn = [&window, &t] {
        const RowsResult* rows = window.engine()->lastRows();
        const double lambda = rows ? rows->request.params.lambda : std::nan("");
        if (lambda != t.perTokenLambda)
            t.drawn.emplace_back(double(t.wall.nsecsElapsed()) / 1e6, lambda);
        t.perTokenLambda = lambda;
        t.perTokenWall = t.now();
    };
    QObject::connect(window.perTokenPlot()->customPlot(), &QCustomPlot::afterReplot, perTokenDrawn);
    QObject::connect(window.perTokenPlot(), &PlotView::layerRedrawn, perTokenDrawn);
    // The matrix too: a replot, or its cells' layer alone (at once, while the window handles
    // the rows).
    const auto matrixDrawn = [&window, &t] {
        const RowsResult* rows = window.engine()->lastRows();
        t.matrixLambda = rows ? rows->request.params.lambda : std::nan("");
        t.matrixReplotAt = ++t.clock;
        t.matrixWall = t.now();
    };
    QObject::connect(window.matrixPlot()->customPlot(), &QCustomPlot::afterReplot, matrixDrawn);
    QObject::connect(window.matrixPlot(), &PlotView::layerRedrawn, matrixDrawn);
    QObject::connect(window.tradeoffPlot()->customPlot(), &QCustomPlot::afterReplot, [&t] {
        t.tradeoffReplotAt = ++t.clock;
        t.tradeoffWall = t.now();
    });
    QObject::connect(window.tradeoffPlot(), &PlotView::layerRedrawn, [&t] {
        t.tradeoffReplotAt = ++t.clock;
        t.tradeoffWall = t.now();
    });
}

/// Processes events until DONE() or TIMEOUT_MS; false on timeout. The loop wakes every
/// WAKE_MS at least to look at DONE.
template <typename Done> bool processUntil(Done done, int timeoutMs, int wakeMs = 20) {
    QElapsedTimer timer;
    timer.start();
    // A timer that wakes the loop now and then, so that WaitForMoreEvents never waits forever.
    QTimer wake;
    wake.setTimerType(Qt::PreciseTimer);
    wake.start(wakeMs);
    while (!done()) {
        if (timer.elapsed() > timeoutMs)
            return false;
        QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents);
    }
    return true;
}

/// Whether the four views show LAMBDA: the rows of the current data set for LAMBDA drawn by the
/// per-token view (its A' layer or a replot) and the matrix, the tradeoff marker drawn since
/// SINCE. The saliency grid shows s: it does not change with lambda.
bool viewsShow(const MainWindow& window, const Tracker& t, double lambda, std::uint64_t since) {
    const Engine* engine = window.engine();
    const auto data = engine->dataSet();
    const RowsResult* rows = engine->lastRows();
    return data && rows && rows->epoch == data->epoch && rows->request.params.lambda == lambda &&
           t.rowsAt > since && t.perTokenLambda == lambda && t.matrixReplotAt > since &&
           t.matrixLambda == lambda && t.tradeoffReplotAt > since;
}

/// Whether the window shows LAMBDA everywhere: the views, and the metrics of LAMBDA in the
/// readout, nothing left to compute.
bool shows(const MainWindow& window, const Tracker& t, double lambda, std::uint64_t since) {
    const Engine* engine = window.engine();
    const auto data = engine->dataSet();
    const EvaluationResult* evaluation = engine->lastEvaluation();
    if (engine->isBusy() || !data || !evaluation || evaluation->epoch != data->epoch ||
        evaluation->request.params.lambda != lambda || !engine->lastSweep() ||
        t.evaluationAt <= since)
        return false;
    return viewsShow(window, t, lambda, since) &&
           window.metricsText().contains(QStringLiteral("λ = %1").arg(lambda, 0, 'f', 3));
}

/// A shown window on the benchmark's workload, settled on LAMBDA; false on timeout.
bool settledWindow(MainWindow& window, Tracker& t, double lambda) {
    window.setSuppressMessageBoxes(true);
    window.setWorkloadSize(gHeads, gQueries, gKeys);
    window.resize(1600, 1000);
    track(window, t);
    window.show();
    if (!processUntil([&] { return shows(window, t, window.lambda(), 0); }, 300000))
        return false;
    if (window.lambda() == lambda)
        return true;
    const std::uint64_t since = ++t.clock;
    window.setLambda(lambda); // raises lambda max (a new sweep) when it must
    return processUntil([&] { return shows(window, t, window.lambda(), since); }, 300000);
}

double medianOf(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    const std::size_t n = values.size();
    return n == 0 ? 0 : n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

void BM_LambdaChangeOnScreen(benchmark::State& state) {
    const double base = double(state.range(0)) / 100.0;
    QSettings().clear(); // the window's defaults: the benchmark before saved its lambda max
    MainWindow window;
    Tracker t;
    if (!settledWindow(window, t, base)) {
        state.SkipWithError("the window did not settle on the first workload");
        return;
    }
    // Steps of a slider drag (one slider position: lambda max / 1000), back and forth.
    const double step = window.controls().lambdaMax->value() / 1000.0;
    double lambda = base;
    QElapsedTimer timer;
    double viewsMs = 0; // when the four views showed the new lambda
    double changedAt = 0;
    auto move = [&](double value) -> bool {
        const std::uint64_t since = ++t.clock;
        timer.start();
        changedAt = t.now();
        viewsMs = -1;
        window.setLambda(value); // the box keeps three decimals: wait for what it holds
        return processUntil(
            [&] {
                if (viewsMs < 0 && viewsShow(window, t, window.lambda(), since))
                    viewsMs = double(timer.nsecsElapsed()) / 1e6;
                return shows(window, t, window.lambda(), since);
            },
            60000, 1);
    };
    if (!move(lambda + step)) { // unmeasured: the evaluation's moments are in place after it
        state.SkipWithError("a lambda change did not reach the screen within 60 s");
        return;
    }
    std::vector<double> wallMs, views, rowsMs, evaluationMs, rowsAt, perTokenAt, matrixAt,
        tradeoffAt;
    int n = 0;
    for (auto _ : state) {
        lambda = base + step * double(2 + n++ % 2); // two and three steps up, in turn
        if (!move(lambda)) {
            state.SkipWithError("a lambda change did not reach the screen within 60 s");
            return;
        }
        wallMs.push_back(double(timer.nsecsElapsed()) / 1e6);
        views.push_back(viewsMs);
        // When each part was there, from the change.
        const double start = changedAt;
        rowsAt.push_back(t.rowsWall - start), perTokenAt.push_back(t.perTokenWall - start);
        matrixAt.push_back(t.matrixWall - start), tradeoffAt.push_back(t.tradeoffWall - start);
        rowsMs.push_back(t.rowsMs), evaluationMs.push_back(t.evaluationMs);
    }
    // The four views, and everything with the metrics readout.
    state.counters["views_median_ms"] = medianOf(views);
    state.counters["views_max_ms"] = *std::max_element(views.begin(), views.end());
    state.counters["median_ms"] = medianOf(wallMs);
    state.counters["max_ms"] = *std::max_element(wallMs.begin(), wallMs.end());
    state.counters["rows_ms"] = medianOf(rowsMs);
    state.counters["rows_at_ms"] = medianOf(rowsAt);
    state.counters["per_token_at_ms"] = medianOf(perTokenAt);
    state.counters["matrix_at_ms"] = medianOf(matrixAt);
    state.counters["tradeoff_at_ms"] = medianOf(tradeoffAt);
    state.counters["evaluation_ms"] = medianOf(evaluationMs);
    // QCustomPlot's own average times of full replots (a drag mostly draws single layers).
    state.counters["matrix_replot_ms"] = window.matrixPlot()->customPlot()->replotTime(true);
    state.SetLabel(std::to_string(gHeads) + "x" + std::to_string(gQueries) + "x" +
                   std::to_string(gKeys) + ", lambda " + std::to_string(base).substr(0, 5));
    window.close();
}
BENCHMARK(BM_LambdaChangeOnScreen)
    ->Arg(25)
    ->Arg(400)
    ->Arg(2000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(30)
    ->Repetitions(1);

/// The slider dragged at 60 Hz for two seconds from lambda 0.25 (a mouse delivers a move every
/// 16.7 ms): distinct lambdas the per-token view drew per second, and how long after the last
/// move everything showed the last lambda.
void BM_Drag(benchmark::State& state) {
    QSettings().clear(); // the window's defaults: the benchmark before saved its lambda max
    MainWindow window;
    Tracker t;
    if (!settledWindow(window, t, 0.25)) {
        state.SkipWithError("the window did not settle on the first workload");
        return;
    }
    QSlider* slider = window.controls().lambdaSlider;
    constexpr int kMoves = 120; // two seconds at 60 Hz
    constexpr double kPeriodMs = 1000.0 / 60;
    double framesPerSecond = 0, lastFrameMs = 0;
    for (auto _ : state) {
        slider->setSliderDown(true);
        const int start = slider->value();
        t.drawn.clear();
        QElapsedTimer drag;
        drag.start();
        for (int move = 1; move <= kMoves; ++move) {
            // Events until the next mouse move is due, then the move.
            processUntil([&] { return double(drag.nsecsElapsed()) / 1e6 >= move * kPeriodMs; },
                         1000, 1);
            slider->setSliderPosition(start + 2 * move); // 0.002 of lambda max per move
        }
        const double dragEndMs = double(t.wall.nsecsElapsed()) / 1e6;
        const double firstMoveMs = dragEndMs - double(drag.nsecsElapsed()) / 1e6;
        slider->setSliderDown(false);
        const double last = window.lambda();
        if (!processUntil([&] { return shows(window, t, last, 0); }, 60000)) {
            state.SkipWithError("the last lambda of the drag did not reach the screen");
            return;
        }
        lastFrameMs = double(t.wall.nsecsElapsed()) / 1e6 - dragEndMs;
        int frames = 0;
        for (const auto& [at, lambda] : t.drawn)
            frames += at >= firstMoveMs && at <= dragEndMs;
        framesPerSecond = frames / ((dragEndMs - firstMoveMs) / 1000.0);
    }
    state.counters["frames_per_s"] = framesPerSecond;
    state.counters["last_frame_ms"] = lastFrameMs;
    state.SetLabel(std::to_string(gHeads) + "x" + std::to_string(gQueries) + "x" +
                   std::to_string(gKeys) + ", 120 moves at 60 Hz from lambda 0.25");
    window.close();
}
BENCHMARK(BM_Drag)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1)->Repetitions(3);

/// One view's work after a lambda change, on its own: the per-token row of K keys set again (A'
/// alternating between two rows) and drawn, in a view of the window's size.
void BM_PerTokenReplot(benchmark::State& state) {
    PerTokenPlot view;
    view.resize(1200, 420);
    view.show();
    const auto keys = static_cast<std::size_t>(gKeys);
    std::vector<double> a(keys), b(keys), c(keys), s(keys);
    for (std::size_t k = 0; k < keys; ++k) {
        s[k] = std::abs(std::sin(0.37 * double(k)));
        a[k] = (1.0 + 0.1 * std::cos(0.11 * double(k))) / double(keys);
        b[k] = a[k] * (1 + 0.1 * s[k]);
        c[k] = a[k] * (1 + 0.12 * s[k]);
    }
    view.setRow(a, b, s, 0, 0, 0.5);
    view.replotNow();
    bool flip = false;
    for (auto _ : state) {
        view.setRow(a, flip ? b : c, s, 0, 0, flip ? 0.5 : 0.6);
        QCoreApplication::processEvents(); // a queued replot, if one was needed
        flip = !flip;
    }
}
BENCHMARK(BM_PerTokenReplot)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(40);

/// The matrix view after a lambda change: a new Q x K matrix (shared, as the window hands it
/// over), pooled to the view's pixels and drawn.
void BM_MatrixReplot(benchmark::State& state) {
    MatrixPlot view;
    view.resize(420, 420);
    view.show();
    PlotData data;
    data.matrixQueries = gQueries, data.matrixKeys = gKeys;
    auto values = std::make_shared<std::vector<double>>(std::size_t(gQueries) * std::size_t(gKeys));
    for (std::size_t i = 0; i < values->size(); ++i)
        (*values)[i] = std::abs(std::sin(0.0013 * double(i)));
    data.sharedMatrix = values;
    for (auto _ : state) {
        data.lambda += 0.1;
        view.setData(data);
        view.replotNow();
    }
}
BENCHMARK(BM_MatrixReplot)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(40);

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
