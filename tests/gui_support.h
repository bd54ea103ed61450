#pragma once
// What the window's test suites share (tst_gui, tst_gui_device): waiting for the window to show
// the current data, and a small window to drive.

#include "engine.h"
#include "main_window.h"

#include <QTest>

#include <memory>

namespace guisupport {

/// How long a test waits for a computation: generous, for a busy machine.
constexpr int kTimeoutMs = 60000;

/// Whether everything the window shows belongs to the current data set and lambda.
inline bool settled(const attnsteer::MainWindow& window) {
    const attnsteer::Engine* engine = window.engine();
    const auto data = engine->dataSet();
    const attnsteer::EvaluationResult* evaluation = engine->lastEvaluation();
    const attnsteer::RowsResult* rows = engine->lastRows();
    return !engine->isBusy() && data && evaluation && rows && evaluation->epoch == data->epoch &&
           rows->epoch == data->epoch && evaluation->request.params.lambda == window.lambda() &&
           rows->request.params.lambda == window.lambda() && engine->lastSweep() &&
           engine->lastSweep()->epoch == data->epoch;
}

/// A shown window on a HEADS x QUERIES x KEYS workload (its first computation, not the default
/// size's), settled; nullptr, with the test failed, when it does not get there.
inline std::unique_ptr<attnsteer::MainWindow> smallWindow(int heads = 2, int queries = 32,
                                                          int keys = 64) {
    auto window = std::make_unique<attnsteer::MainWindow>();
    window->setSuppressMessageBoxes(true);
    window->setWorkloadSize(heads, queries, keys);
    window->resize(1400, 900);
    window->show();
    if (!QTest::qWaitForWindowExposed(window.get()))
        return nullptr;
    [&] { QTRY_VERIFY_WITH_TIMEOUT(settled(*window), kTimeoutMs); }();
    if (QTest::currentTestFailed())
        return nullptr;
    return window;
}

} // namespace guisupport
