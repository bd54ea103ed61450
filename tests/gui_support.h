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

/// Whether the grounding jobs show the evaluation's data set and steering: the readout's
/// grounding metrics (with a vision span or a target), the heads profile (while the heads view is
/// shown) and the top-k curve (when there are top-k heads).
inline bool groundingSettled(const attnsteer::MainWindow& window) {
    using attnsteer::GroundingJobs;
    const GroundingJobs* jobs = window.groundingJobs();
    const auto data = window.engine()->dataSet();
    const attnsteer::EvaluationResult* evaluation = window.engine()->lastEvaluation();
    if (jobs->isBusy() || !data || !evaluation)
        return false;
    const attnsteer::SteeringParams& params = evaluation->request.params;
    if (GroundingJobs::hasGrounding(*data)) {
        const attnsteer::GroundingResult* grounding = jobs->lastGrounding();
        if (!grounding || grounding->epoch != data->epoch ||
            !attnsteer::sameSteering(grounding->params, params))
            return false;
    }
    if (jobs->profileWanted()) {
        const attnsteer::ProfileResult* profile = jobs->lastProfile();
        if (!profile || !(profile->key == GroundingJobs::profileKey(*data, params)))
            return false;
    }
    if (!jobs->comparisonHeads().empty()) {
        const attnsteer::ComparisonResult* comparison = jobs->lastComparison();
        if (!comparison || comparison->epoch != data->epoch ||
            comparison->heads != jobs->comparisonHeads())
            return false;
    }
    return true;
}

/// Whether everything the window shows belongs to the current data set and lambda.
inline bool settled(const attnsteer::MainWindow& window) {
    const attnsteer::Engine* engine = window.engine();
    const auto data = engine->dataSet();
    const attnsteer::EvaluationResult* evaluation = engine->lastEvaluation();
    const attnsteer::RowsResult* rows = engine->lastRows();
    return !engine->isBusy() && data && evaluation && rows && evaluation->epoch == data->epoch &&
           rows->epoch == data->epoch && evaluation->request.params.lambda == window.lambda() &&
           rows->request.params.lambda == window.lambda() && engine->lastSweep() &&
           engine->lastSweep()->epoch == data->epoch && groundingSettled(window);
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
