#include "engine.h"

#include "error_text.h"

#include "attnsteer/errors.h"
#include "attnsteer/fallback_backend.h"
#include "attnsteer/gpu.h"
#include "attnsteer/steering.h"

#include <QElapsedTimer>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <span>
#include <stdexcept>

namespace attnsteer {

namespace {

bool sameWorkloadSource(const Scenario& a, const Scenario& b) {
    if (a.logitsPath != b.logitsPath || a.attentionPath != b.attentionPath || a.layer != b.layer ||
        a.metaPath != b.metaPath)
        return false;
    if (a.hasWorkloadFile())
        return true;
    return a.spec.heads == b.spec.heads && a.spec.queries == b.spec.queries &&
           a.spec.keys == b.spec.keys && a.spec.logitStd == b.spec.logitStd &&
           a.spec.seed == b.spec.seed;
}

bool sameProjection(const ProjectionOptions& a, const ProjectionOptions& b) {
    return a.patchFactor == b.patchFactor && a.minPixels == b.minPixels &&
           a.maxPixels == b.maxPixels && a.visionOffset == b.visionOffset &&
           a.textSaliency == b.textSaliency && a.grid.frames == b.grid.frames &&
           a.grid.rows == b.grid.rows && a.grid.cols == b.grid.cols;
}

/// Whether the data set (workload, saliency) of A and B differ. The projection options matter
/// only to a saliency image.
bool dataDiffers(const Scenario& a, const Scenario& b) {
    return !sameWorkloadSource(a, b) || a.spec.seed != b.spec.seed ||
           a.saliencyPath != b.saliencyPath || a.saliencyImagePath != b.saliencyImagePath ||
           a.normalization != b.normalization ||
           (!b.saliencyImagePath.empty() && !sameProjection(a.projection, b.projection));
}

double millisecondsSince(const QElapsedTimer& timer) {
    return timer.nsecsElapsed() / 1e6;
}

} // namespace

Engine::Engine(QObject* parent)
    : QObject(parent), cudaFactory_([] { return gpu::makeCudaBackend(); }),
      cpuEvaluationBackend_(makeCpuBackend()), cpuSweepBackend_(makeCpuBackend()),
      evaluationBackend_(cpuEvaluationBackend_), sweepBackend_(cpuSweepBackend_),
      rowBackend_(makeCpuBackend(1)),
      dataJob_(this, &pool_,
               [this](JobOutcome<std::shared_ptr<const DataSet>>&& outcome) {
                   updateBusy();
                   if (outcome.cancelled)
                       return;
                   if (!outcome.error.isEmpty()) {
                       dataSetFailed(outcome.error);
                       return;
                   }
                   if (dataJob_.isRunning())
                       return; // a newer scenario is on its way
                   dataSet_ = std::move(*outcome.value);
                   const Workload& workload = *dataSet_->workload;
                   head_ = std::clamp(head_, 0, workload.heads() - 1);
                   query_ = std::clamp(query_, 0, workload.queries() - 1);
                   emit workloadReady();
                   requestEvaluation(true);
                   requestSweepAfterEvaluation();
               }),
      rowsJob_(this, &pool_,
               [this](JobOutcome<RowsResult>&& outcome) {
                   updateBusy();
                   if (outcome.cancelled)
                       return;
                   if (!outcome.error.isEmpty()) {
                       emit failed(outcome.error);
                       return;
                   }
                   RowsResult& result = *outcome.value;
                   if (!dataSet_ || result.epoch != dataSet_->epoch)
                       return; // computed on an outdated workload or saliency
                   const EvaluationRequest& request = result.request;
                   matrixKey_ = {result.epoch, request.head, request.params.lambda,
                                 request.params.eps, request.params.steeredHeads};
                   matrixSteered_ = result.matrixSteered;
                   headMatrix_ = result.headMatrix;
                   lastRows_ = result;
                   emit rowsFinished(*lastRows_);
               }),
      evaluationJob_(
          this, &pool_,
          [this](JobOutcome<EvaluationResult>&& outcome) {
              // The sweep waited for the evaluation (see requestSweepAfterEvaluation); it starts
              // before busyChanged could report a pause.
              if (sweepWanted_ && !outcome.cancelled && outcome.error.isEmpty() &&
                  !evaluationJob_.isRunning())
                  requestSweep();
              updateBusy();
              if (outcome.cancelled)
                  return;
              if (!outcome.error.isEmpty()) {
                  emit failed(outcome.error);
                  return;
              }
              if (!dataSet_ || outcome.value->epoch != dataSet_->epoch)
                  return;
              lastEvaluation_ = std::move(*outcome.value);
              emit evaluationFinished(*lastEvaluation_);
          },
          [this](double fraction) { emit progressChanged(EngineTask::Evaluation, fraction); }),
      sweepJob_(
          this, &pool_,
          [this](JobOutcome<SweepOutcome>&& outcome) {
              updateBusy();
              if (outcome.cancelled)
                  return;
              if (!outcome.error.isEmpty()) {
                  emit failed(outcome.error);
                  return;
              }
              if (!dataSet_ || outcome.value->epoch != dataSet_->epoch || sweepJob_.isRunning())
                  return;
              lastSweep_ = std::move(*outcome.value);
              emit sweepFinished(*lastSweep_);
          },
          [this](double fraction) { emit progressChanged(EngineTask::Sweep, fraction); }) {
    qRegisterMetaType<RowsResult>();
    qRegisterMetaType<EvaluationResult>();
    qRegisterMetaType<SweepOutcome>();
    // Every pipeline runs at most one job at a time: four threads, so none waits for another.
    pool_.setMaxThreadCount(4);
}

Engine::~Engine() {
    dataJob_.cancel();
    rowsJob_.cancel();
    evaluationJob_.cancel();
    sweepJob_.cancel();
    pool_.waitForDone();
}

void Engine::setScenario(const Scenario& scenario) {
    const bool dataChanged = dataDiffers(scenario_, scenario);
    const bool paramsChanged = scenario_.params.eps != scenario.params.eps ||
                               scenario_.params.steeredHeads != scenario.params.steeredHeads;
    const bool lambdaChanged = scenario_.params.lambda != scenario.params.lambda;
    scenario_ = scenario;
    if (!started_)
        return;
    if (dataChanged) {
        requestDataSet();
        return;
    }
    if (paramsChanged || lambdaChanged)
        requestEvaluation(false);
    if (paramsChanged)
        requestSweepAfterEvaluation();
}

void Engine::setView(int head, int query) {
    if (head == head_ && query == query_)
        return;
    head_ = std::max(head, 0), query_ = std::max(query, 0);
    if (dataSet_) {
        head_ = std::min(head_, dataSet_->workload->heads() - 1);
        query_ = std::min(query_, dataSet_->workload->queries() - 1);
    }
    if (started_)
        requestRows();
}

void Engine::setSweepGrid(double lambdaMax, int points, int seeds) {
    lambdaMax = std::max(lambdaMax, 1e-9);
    points = std::max(points, 2), seeds = std::max(seeds, 1);
    if (lambdaMax == sweepLambdaMax_ && points == sweepPoints_ && seeds == sweepSeeds_)
        return;
    sweepLambdaMax_ = lambdaMax, sweepPoints_ = points, sweepSeeds_ = seeds;
    if (started_)
        requestSweep();
}

std::vector<double> Engine::sweepLambdas() const {
    return evenLambdaGrid(sweepPoints_, sweepLambdaMax_);
}

bool Engine::setBackend(BackendKind kind) {
    if (kind == backendKind_)
        return true;
    if (kind == BackendKind::Cpu) {
        backendKind_ = BackendKind::Cpu;
        evaluationBackend_ = cpuEvaluationBackend_;
        sweepBackend_ = cpuSweepBackend_;
    } else {
        // Two CUDA backends, as on the CPU: the evaluation keeps the workload shown resident while
        // the sweep goes through its seeds.
        try {
            std::shared_ptr<Backend> evaluation = cudaFactory_();
            std::shared_ptr<Backend> sweep = cudaFactory_();
            if (!evaluation || !sweep)
                throw std::runtime_error("no CUDA backend");
            // A device failure (out of memory for a bigger workload) computes that job on the
            // CPU, and the engine stays there.
            const auto fellBack = [this](const std::string& reason) {
                QMetaObject::invokeMethod(
                    this,
                    [this, reason = QString::fromStdString(reason)] { fallBackToCpu(reason); },
                    Qt::QueuedConnection);
            };
            evaluationBackend_ = std::make_shared<FallbackBackend>(std::move(evaluation),
                                                                   cpuEvaluationBackend_, fellBack);
            sweepBackend_ =
                std::make_shared<FallbackBackend>(std::move(sweep), cpuSweepBackend_, fellBack);
            backendKind_ = BackendKind::Cuda;
        } catch (const InputError& error) {
            emit backendUnavailable(windowMessage(error));
            return false;
        } catch (const std::exception& error) {
            emit backendUnavailable(QString::fromStdString(error.what()));
            return false;
        }
    }
    if (started_ && dataSet_) {
        requestEvaluation(true);
        requestSweepAfterEvaluation();
    }
    return true;
}

void Engine::fallBackToCpu(const QString& reason) {
    if (backendKind_ != BackendKind::Cuda)
        return; // already done by an earlier job
    backendKind_ = BackendKind::Cpu;
    evaluationBackend_ = cpuEvaluationBackend_; // the running CUDA jobs keep theirs alive
    sweepBackend_ = cpuSweepBackend_;
    emit backendFellBack(reason);
}

void Engine::start() {
    const bool first = !started_;
    started_ = true;
    if (!first) {
        // F5: from scratch, files re-read.
        dataSet_.reset();
        lastEvaluation_.reset(), lastRows_.reset(), lastSweep_.reset();
        matrixKey_ = {};
        matrixSteered_.reset();
        headMatrix_.reset();
    }
    requestDataSet();
}

void Engine::reloadSaliency() {
    if (started_)
        requestDataSet();
}

void Engine::cancel() {
    dataJob_.cancel();
    rowsJob_.cancel();
    evaluationJob_.cancel();
    sweepJob_.cancel();
}

bool Engine::isBusy() const {
    return dataJob_.isRunning() || rowsJob_.isRunning() || evaluationJob_.isRunning() ||
           sweepJob_.isRunning();
}

void Engine::updateBusy() {
    const bool busy = isBusy();
    if (busy != busy_) {
        busy_ = busy;
        emit busyChanged(busy);
    }
}

EvaluationRequest Engine::currentRequest() const {
    EvaluationRequest request;
    request.params = scenario_.params;
    request.head = head_;
    request.query = query_;
    return request;
}

void Engine::requestDataSet() {
    const Scenario scenario = scenario_;
    const std::shared_ptr<const DataSet> previous = dataSet_;
    const std::uint64_t epoch = nextEpoch_++;
    emit workloadStarted();
    dataJob_.request([scenario, previous, epoch](const JobControl&) {
        QElapsedTimer timer;
        timer.start();
        checkScenario(scenario);
        auto data = std::make_shared<DataSet>();
        if (previous && sameWorkloadSource(previous->scenario, scenario))
            data->workload = previous->workload;
        else
            data->workload = std::make_shared<const Workload>(loadWorkload(scenario));
        data->meta = loadDumpMeta(scenario, *data->workload);
        data->projection = effectiveProjection(scenario, data->meta ? &*data->meta : nullptr);
        data->raw = loadRawSaliency(scenario, data->workload->keys(), data->projection);
        data->saliency = normalizeRawSaliency(data->raw, scenario.normalization);
        data->scenario = scenario;
        data->epoch = epoch;
        data->elapsedMs = millisecondsSince(timer);
        return std::shared_ptr<const DataSet>(std::move(data));
    });
    updateBusy();
}

void Engine::dataSetFailed(const QString& message) {
    if (dataJob_.isRunning()) {
        // A newer scenario is being prepared: it decides what stays.
        emit failed(message);
        return;
    }
    // Back to the files and projection of the data set on screen (or to random ones when there
    // is none), so that the next change does not trip over the same problem again.
    const bool hadFiles = scenario_.hasWorkloadFile() || scenario_.hasFixedSaliency();
    const Scenario good = dataSet_ ? dataSet_->scenario : Scenario{};
    scenario_.logitsPath = good.logitsPath;
    scenario_.attentionPath = good.attentionPath;
    scenario_.saliencyPath = good.saliencyPath;
    scenario_.saliencyImagePath = good.saliencyImagePath;
    scenario_.projection = good.projection;
    emit scenarioRestored();
    emit failed(message);
    if (!dataSet_ && hadFiles && !dataJob_.isRunning())
        requestDataSet();
}

void Engine::requestEvaluation(bool dataChanged) {
    const std::shared_ptr<const DataSet> data = dataSet_;
    if (!data)
        return;
    const EvaluationRequest request = currentRequest();
    const std::shared_ptr<Backend> backend = evaluationBackend_;
    // A new data set makes the running evaluation useless; a new lambda does not: its moments
    // are what the next one reuses.
    evaluationJob_.request(
        [data, request, backend](const JobControl& control) {
            RunControl run;
            run.cancel = control.cancel.get();
            run.onProgress = control.progress;
            EvaluationResult result;
            result.epoch = data->epoch;
            result.request = request;
            result.metrics =
                backend->evaluate(*data->workload, data->saliency.values, request.params, run);
            return result;
        },
        dataChanged);
    requestRows();
    updateBusy();
}

void Engine::requestRows() {
    const std::shared_ptr<const DataSet> data = dataSet_;
    if (!data)
        return;
    const EvaluationRequest request = currentRequest();
    const MatrixKey key{data->epoch, request.head, request.params.lambda, request.params.eps,
                        request.params.steeredHeads};
    const auto steered = key == matrixKey_ ? matrixSteered_ : nullptr;
    const auto cached = headMatrix_ && headMatrix_->epoch == data->epoch &&
                                headMatrix_->head == request.head &&
                                headMatrix_->eps == request.params.eps
                            ? headMatrix_
                            : nullptr;
    const std::shared_ptr<Backend> backend = rowBackend_;
    rowsJob_.request([data, request, backend, steered, cached](const JobControl& control) {
        QElapsedTimer timer;
        timer.start();
        const Workload& workload = *data->workload;
        const std::vector<double>& s = data->saliency.values;
        const SteeringParams& params = request.params;
        RowsResult result;
        result.epoch = data->epoch;
        result.request = request;
        // The row of the per-token view comes from the backend itself: what it shows is exactly
        // what the core computes.
        result.row = backend->row(workload, s, params, request.head, request.query);
        result.headMatrix = cached ? cached : headMatrixOf(*data, request, *control.cancel);
        const HeadMatrix& head = *result.headMatrix;
        result.queries = head.queries, result.keys = head.keys;
        result.matrixOriginal = head.original;
        const bool headSteered = isHeadSteered(params, workload.headOfUnit(request.head));
        if (steered)
            result.matrixSteered = steered;
        else if (!headSteered)
            result.matrixSteered = head.original;
        else
            result.matrixSteered = steeredMatrix(head, s, params.lambda, *control.cancel);
        result.elapsedMs = millisecondsSince(timer);
        return result;
    });
    updateBusy();
}

std::shared_ptr<const HeadMatrix> Engine::headMatrixOf(const DataSet& data,
                                                       const EvaluationRequest& request,
                                                       const std::atomic<bool>& cancel) {
    const Workload& workload = *data.workload;
    const int keys = workload.keys();
    const int queries = matrixQueries(workload.queries(), keys);
    auto matrix = std::make_shared<HeadMatrix>();
    matrix->epoch = data.epoch;
    matrix->head = request.head;
    matrix->eps = request.params.eps;
    matrix->queries = queries, matrix->keys = keys;
    auto original = std::make_shared<std::vector<double>>(std::size_t(queries) * keys);
    for (int q = 0; q < queries; ++q) {
        if (q % 64 == 0 && cancel.load())
            throw Cancelled();
        workload.attentionRow(
            request.head, q,
            std::span<double>(original->data() + std::size_t(q) * keys, std::size_t(keys)));
    }
    matrix->logShifted.resize(original->size());
#pragma omp parallel for schedule(static)
    for (int q = 0; q < queries; ++q) {
        const std::size_t offset = std::size_t(q) * std::size_t(keys);
        steering::shiftedLogs(original->data() + offset, std::size_t(keys), request.params.eps,
                              matrix->logShifted.data() + offset);
    }
    matrix->original = std::move(original);
    return matrix;
}

std::shared_ptr<const std::vector<double>> Engine::steeredMatrix(const HeadMatrix& head,
                                                                 const std::vector<double>& s,
                                                                 double lambda,
                                                                 const std::atomic<bool>& cancel) {
    // The rows are independent: spread over the cores (a lambda change waits for this).
    const std::size_t keys = std::size_t(head.keys);
    auto steered = std::make_shared<std::vector<double>>(head.logShifted.size());
    std::atomic<bool> stopped{false};
#pragma omp parallel for schedule(static)
    for (int q = 0; q < head.queries; ++q) {
        if (stopped.load(std::memory_order_relaxed))
            continue;
        if (q % 64 == 0 && cancel.load()) {
            stopped.store(true);
            continue;
        }
        const std::size_t offset = std::size_t(q) * keys;
        steering::steerShiftedLogs(head.logShifted.data() + offset, s.data(), keys, lambda,
                                   steered->data() + offset);
    }
    if (stopped.load())
        throw Cancelled();
    return steered;
}

void Engine::requestSweepAfterEvaluation() {
    // The first evaluation of a data set (or eps) computes its moments, which takes as long as one
    // seed of the sweep: the numbers the user waits for come first, the curve after them. Lambda
    // changes in the meantime are cheap and go on during the sweep.
    sweepJob_.cancel(); // what it computes is outdated
    sweepWanted_ = true;
    if (!evaluationJob_.isRunning())
        requestSweep();
}

void Engine::requestSweep() {
    const std::shared_ptr<const DataSet> data = dataSet_;
    if (!data)
        return;
    sweepWanted_ = false;
    std::vector<std::uint64_t> seeds;
    for (int i = 0; i < sweepSeeds_; ++i)
        seeds.push_back(data->scenario.spec.seed + std::uint64_t(i));
    Scenario scenario = data->scenario;
    scenario.params = scenario_.params; // eps and steered heads may have changed since
    // DATA keeps the workload alive for the job.
    const SweepConfig config =
        sweepConfigFor(scenario, scenario.hasWorkloadFile() ? data->workload.get() : nullptr,
                       scenario.hasFixedSaliency() ? &data->raw.values : nullptr, sweepLambdas(),
                       std::move(seeds));
    const std::shared_ptr<Backend> backend = sweepBackend_;
    emit sweepStarted();
    sweepJob_.request(
        [data, config, backend](const JobControl& control) {
            QElapsedTimer timer;
            timer.start();
            RunControl run;
            run.cancel = control.cancel.get();
            run.onProgress = control.progress;
            SweepOutcome outcome;
            outcome.epoch = data->epoch;
            outcome.rows = runSweep(config, *backend, run);
            outcome.seeds = config.seeds;
            outcome.params = config.params;
            outcome.elapsedMs = millisecondsSince(timer);
            return outcome;
        },
        true);
    updateBusy();
}

} // namespace attnsteer
