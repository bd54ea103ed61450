#include "engine.h"

#include "error_text.h"
#include "saliency_image.h"
#include "steered_rows.h"

#include "attnsteer/errors.h"
#include "attnsteer/fallback_backend.h"
#include "attnsteer/gpu.h"
#include "attnsteer/steering.h"
#include "attnsteer/transformer_block.h"

#include <QElapsedTimer>
#include <QImageReader>

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <span>
#include <stdexcept>

namespace attnsteer {

namespace {

/// Whether A and B read the same source (file and sidecar, or random spec). The layer is not
/// part of it: a new layer is selected from the loaded workload.
bool sameWorkloadSource(const Scenario& a, const Scenario& b) {
    if (a.logitsPath != b.logitsPath || a.attentionPath != b.attentionPath ||
        a.metaPath != b.metaPath)
        return false;
    if (a.hasWorkloadFile())
        return true;
    // The transformer's settings, its layout as --image-grid and --vision-offset would set it.
    const TransformerSpec ta = generatedSpec(a).transformer, tb = generatedSpec(b).transformer;
    const bool sameTransformer =
        a.spec.kind != WorkloadKind::Transformer ||
        (ta.headDim == tb.headDim && ta.targetStrength == tb.targetStrength &&
         ta.visionOffset == tb.visionOffset && ta.grid.frames == tb.grid.frames &&
         ta.grid.rows == tb.grid.rows && ta.grid.cols == tb.grid.cols);
    return a.spec.kind == b.spec.kind && sameTransformer && a.spec.heads == b.spec.heads &&
           a.spec.queries == b.spec.queries && a.spec.keys == b.spec.keys &&
           a.spec.logitStd == b.spec.logitStd && a.spec.seed == b.spec.seed;
}

bool sameProjection(const ProjectionOptions& a, const ProjectionOptions& b) {
    return a.patchFactor == b.patchFactor && a.minPixels == b.minPixels &&
           a.maxPixels == b.maxPixels && a.visionOffset == b.visionOffset &&
           a.textSaliency == b.textSaliency && a.grid.frames == b.grid.frames &&
           a.grid.rows == b.grid.rows && a.grid.cols == b.grid.cols;
}

/// Whether the data set (workload, saliency, target) of A and B differ. The projection options
/// matter only to a saliency image or a target mask.
bool dataDiffers(const Scenario& a, const Scenario& b) {
    return !sameWorkloadSource(a, b) || a.layer != b.layer || a.spec.seed != b.spec.seed ||
           a.saliencyPath != b.saliencyPath || a.saliencyImagePath != b.saliencyImagePath ||
           a.normalization != b.normalization || a.binaryThreshold != b.binaryThreshold ||
           a.targetPath != b.targetPath || a.targetMaskPath != b.targetMaskPath ||
           a.simulatedSaliency.quality != b.simulatedSaliency.quality ||
           a.simulatedSaliency.blur != b.simulatedSaliency.blur ||
           ((!b.saliencyImagePath.empty() || !b.targetMaskPath.empty()) &&
            !sameProjection(a.projection, b.projection));
}

double millisecondsSince(const QElapsedTimer& timer) {
    return timer.nsecsElapsed() / 1e6;
}

/// The sidecar's picture, decoded (with the saliency images' size check); WARNING says why not.
QImage decodeMetaImage(const std::string& path, std::string& warning) {
    const QString file = QString::fromStdString(path);
    try {
        checkSaliencyImage(file);
    } catch (const InputError& error) {
        warning = windowMessage(error).toStdString();
        return {};
    }
    QImageReader reader(file);
    QImage image = reader.read();
    if (image.isNull())
        warning = path + ": cannot decode image: " + reader.errorString().toStdString();
    return image;
}

} // namespace

Engine::Engine(QObject* parent)
    : QObject(parent), cudaFactory_([] { return gpu::makeCudaBackend(); }),
      cpuEvaluationBackend_(makeCpuBackend()), cpuSweepBackend_(makeCpuBackend()),
      cpuProfileBackend_(makeCpuBackend()), cpuComparisonBackend_(makeCpuBackend()),
      evaluationBackend_(cpuEvaluationBackend_), sweepBackend_(cpuSweepBackend_),
      profileBackend_(cpuProfileBackend_), comparisonBackend_(cpuComparisonBackend_),
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
                   head_ = std::clamp(head_, 0, workload.headsPerLayer() - 1);
                   // A new dump opens on its last query row: in a causal model the token that
                   // sees the whole prompt (and the image), where row 0 sees only itself;
                   // unless a row was chosen while it loaded.
                   query_ = openOnLastQuery_ ? workload.queries() - 1
                                             : std::clamp(query_, 0, workload.queries() - 1);
                   openOnLastQuery_ = false;
                   emit workloadReady();
                   requestEvaluation(true);
                   requestSweepAfterEvaluation();
               }),
      rowsJob_(this, &pool_,
               [this](JobOutcome<RowsResult>&& outcome) {
                   // The numbers that waited for the rows (requestEvaluation) start once the
                   // window has drawn them: posted when this handler ends, behind the views'
                   // queued replots that rowsFinished schedules, so that the evaluation's
                   // threads do not share the cores with that drawing.
                   const struct StartEvaluationAfterwards {
                       Engine* engine;
                       ~StartEvaluationAfterwards() {
                           QMetaObject::invokeMethod(
                               engine, [e = engine] { e->startDeferredEvaluation(); },
                               Qt::QueuedConnection);
                       }
                   } startEvaluation{this};
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
                   matrixKey_ = MatrixKey(result.epoch, request.head, request.params);
                   matrixSteered_ = result.matrixSteered;
                   matrixSteeredMean_ = result.queryMeanSteered;
                   matrixPooled_ = result.matrixPooled;
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

void Engine::setScenario(const Scenario& given) {
    // A dump is the workload: the generated kind (the workload box) applies again without one.
    Scenario scenario = given;
    if (scenario.hasWorkloadFile())
        scenario.spec.kind = WorkloadKind::Random;
    const bool dataChanged = dataDiffers(scenario_, scenario);
    const SteeringParams &was = scenario_.params, &now = scenario.params;
    const bool paramsChanged = was.eps != now.eps || was.steeredHeads != now.steeredHeads ||
                               was.steeredLayerHeads != now.steeredLayerHeads ||
                               was.gateEntropy != now.gateEntropy ||
                               was.steeredQueries != now.steeredQueries;
    const bool lambdaChanged = scenario_.params.lambda != scenario.params.lambda;
    scenario_ = scenario;
    if (!started_)
        return;
    if (dataChanged) {
        requestDataSet(false);
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
    if (query != query_)
        openOnLastQuery_ = false; // a row chosen while a dump loads wins over its default
    head_ = std::max(head, 0), query_ = std::max(query, 0);
    if (dataSet_) {
        head_ = std::min(head_, dataSet_->workload->headsPerLayer() - 1);
        query_ = std::min(query_, dataSet_->workload->queries() - 1);
    }
    if (started_)
        requestRows();
}

void Engine::setMatrixPooling(QSize cells) {
    matrixPooling_ = cells;
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
        profileBackend_ = cpuProfileBackend_;
        comparisonBackend_ = cpuComparisonBackend_;
    } else {
        // Two CUDA backends, as on the CPU: the evaluation keeps the workload shown resident while
        // the sweep goes through its seeds.
        try {
            std::shared_ptr<Backend> evaluation = cudaFactory_();
            std::shared_ptr<Backend> sweep = cudaFactory_();
            std::shared_ptr<Backend> profile = cudaFactory_();
            std::shared_ptr<Backend> comparison = cudaFactory_();
            if (!evaluation || !sweep || !profile || !comparison)
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
            profileBackend_ =
                std::make_shared<FallbackBackend>(std::move(profile), cpuProfileBackend_, fellBack);
            comparisonBackend_ = std::make_shared<FallbackBackend>(std::move(comparison),
                                                                   cpuComparisonBackend_, fellBack);
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
    profileBackend_ = cpuProfileBackend_;
    comparisonBackend_ = cpuComparisonBackend_;
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
        matrixSteeredMean_.clear();
        headMatrix_.reset();
    }
    requestDataSet(true);
}

void Engine::reloadSaliency() {
    if (started_)
        requestDataSet(true);
}

void Engine::cancel() {
    deferredEvaluation_.reset();
    dataJob_.cancel();
    rowsJob_.cancel();
    evaluationJob_.cancel();
    sweepJob_.cancel();
}

bool Engine::isBusy() const {
    return dataJob_.isRunning() || rowsJob_.isRunning() || evaluationJob_.isRunning() ||
           sweepJob_.isRunning() || deferredEvaluation_.has_value();
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

void Engine::requestDataSet(bool reread) {
    const Scenario scenario = scenario_;
    const std::shared_ptr<const DataSet> previous = dataSet_;
    if (scenario.hasWorkloadFile() &&
        (!previous || previous->scenario.logitsPath != scenario.logitsPath ||
         previous->scenario.attentionPath != scenario.attentionPath))
        openOnLastQuery_ = true;
    const std::uint64_t epoch = nextEpoch_++;
    emit workloadStarted();
    dataJob_.request([scenario, previous, epoch, reread](const JobControl&) {
        QElapsedTimer timer;
        timer.start();
        checkScenario(scenario);
        auto data = std::make_shared<DataSet>();
        if (previous && sameWorkloadSource(previous->scenario, scenario)) {
            // The same file and sidecar: nothing is read again, a new layer is a view of it.
            data->fullWorkload = previous->fullWorkload;
            data->meta = previous->meta;
            data->metaImage = previous->metaImage;
            data->metaImageWarning = previous->metaImageWarning;
        } else {
            Scenario allLayers = scenario;
            allLayers.layer.reset();
            data->fullWorkload = std::make_shared<const Workload>(loadWorkload(allLayers));
            data->meta = loadDumpMeta(scenario, *data->fullWorkload);
            if (data->meta && !data->meta->imagePath.empty())
                data->metaImage = decodeMetaImage(data->meta->imagePath, data->metaImageWarning);
        }
        const Workload& full = *data->fullWorkload;
        data->workload = scenario.layer ? std::make_shared<const Workload>(full.selectLayers(
                                              chooseLayers(scenario.layer, full.sourceLayers())))
                                        : data->fullWorkload;
        Scenario previousWithLayer = previous ? previous->scenario : scenario;
        previousWithLayer.layer = scenario.layer;
        if (previous && !reread && !dataDiffers(previousWithLayer, scenario)) {
            // Only the layer changed: the saliency is the same.
            data->projection = previous->projection;
            data->raw = previous->raw;
            data->saliency = previous->saliency;
            data->grounding = previous->grounding;
        } else {
            data->projection = effectiveProjection(scenario, data->meta ? &*data->meta : nullptr);
            data->raw = loadRawSaliency(scenario, full.keys(), data->projection);
            data->saliency = normalizeRawSaliency(data->raw, scenario);
            data->grounding = groundingKeysFor(scenario, full.keys(), data->projection, &data->raw);
            // The transformer's planted object is its target unless the user gives one (as
            // prepareScenario does).
            if (const TransformerBlock* block = full.transformer(); block && !scenario.hasTarget())
                data->grounding = block->layout().groundingKeys();
        }
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
    const bool hadFiles =
        scenario_.hasWorkloadFile() || scenario_.hasFixedSaliency() || scenario_.hasTarget();
    const Scenario good = dataSet_ ? dataSet_->scenario : Scenario{};
    scenario_.logitsPath = good.logitsPath;
    scenario_.attentionPath = good.attentionPath;
    scenario_.layer = good.layer;
    scenario_.metaPath = good.metaPath;
    scenario_.saliencyPath = good.saliencyPath;
    scenario_.saliencyImagePath = good.saliencyImagePath;
    scenario_.targetPath = good.targetPath;
    scenario_.targetMaskPath = good.targetMaskPath;
    scenario_.projection = good.projection;
    emit scenarioRestored();
    emit failed(message);
    if (!dataSet_ && hadFiles && !dataJob_.isRunning())
        requestDataSet(false);
}

void Engine::requestEvaluation(bool dataChanged) {
    const std::shared_ptr<const DataSet> data = dataSet_;
    if (!data)
        return;
    const EvaluationRequest request = currentRequest();
    const std::shared_ptr<Backend> backend = evaluationBackend_;
    LatestJob<EvaluationResult>::Work work = [data, request, backend](const JobControl& control) {
        RunControl run;
        run.cancel = control.cancel.get();
        run.onProgress = control.progress;
        EvaluationResult result;
        result.epoch = data->epoch;
        result.request = request;
        result.metrics =
            backend->evaluate(*data->workload, data->saliency.values, request.params, run);
        return result;
    };
    requestRows();
    if (dataChanged) {
        // A new data set makes the running evaluation useless. Its first evaluation builds the
        // moments while the rows prepare the head's matrix: both at once.
        deferredEvaluation_.reset();
        evaluationJob_.request(std::move(work), true);
    } else if (rowsJob_.isRunning()) {
        // A new lambda (or eps, steered heads): the views' rows first, alone on the cores, the
        // numbers right after them (rowsJob_'s end starts it). A running evaluation is not
        // cancelled: its moments are what the next one reuses.
        deferredEvaluation_ = std::move(work);
    } else {
        evaluationJob_.request(std::move(work));
    }
    updateBusy();
}

void Engine::startDeferredEvaluation() {
    if (!deferredEvaluation_)
        return;
    LatestJob<EvaluationResult>::Work work = std::move(*deferredEvaluation_);
    deferredEvaluation_.reset();
    evaluationJob_.request(std::move(work));
}

void Engine::requestRows() {
    const std::shared_ptr<const DataSet> data = dataSet_;
    if (!data)
        return;
    const EvaluationRequest request = currentRequest();
    const MatrixKey key(data->epoch, request.head, request.params);
    const auto steered = key == matrixKey_ ? matrixSteered_ : nullptr;
    const std::vector<double> steeredMean = steered ? matrixSteeredMean_ : std::vector<double>();
    const QSize pooling = matrixPooling_;
    const auto pooled = steered && matrixPooled_ && matrixPooled_->cols == pooling.width() &&
                                matrixPooled_->rows == pooling.height()
                            ? matrixPooled_
                            : nullptr;
    const auto cached = headMatrix_ && headMatrix_->epoch == data->epoch &&
                                headMatrix_->head == request.head &&
                                headMatrix_->eps == request.params.eps
                            ? headMatrix_
                            : nullptr;
    const std::shared_ptr<Backend> backend = rowBackend_;
    rowsJob_.request([data, request, backend, steered, steeredMean, cached, pooling,
                      pooled](const JobControl& control) {
        QElapsedTimer timer;
        timer.start();
        const Workload& workload = *data->workload;
        const std::vector<double>& s = data->saliency.values;
        const SteeringParams& params = request.params;
        RowsResult result;
        result.epoch = data->epoch;
        result.request = request;
        result.layers = workload.layers();
        result.layer =
            workload.layers() == 1 && workload.sourceLayers() > 1 ? workload.sourceLayer(0) : -1;
        // The row of the per-token view comes from the backend itself: what it shows is exactly
        // what the core computes. Several layers: the mean of their rows, A and A' each.
        for (int layer = 0; layer < workload.layers(); ++layer) {
            TokenRow row = backend->row(workload, s, params, workload.unitOf(layer, request.head),
                                        request.query);
            if (layer == 0) {
                result.row = std::move(row);
                continue;
            }
            for (std::size_t k = 0; k < row.original.size(); ++k) {
                result.row.original[k] += row.original[k];
                result.row.steered[k] += row.steered[k];
            }
        }
        if (workload.layers() > 1)
            for (std::size_t k = 0; k < result.row.original.size(); ++k) {
                result.row.original[k] /= workload.layers();
                result.row.steered[k] /= workload.layers();
            }
        result.headMatrix = cached ? cached : headMatrixOf(*data, request, *control.cancel);
        const HeadMatrix& head = *result.headMatrix;
        result.queries = head.queries, result.keys = head.keys;
        result.matrixOriginal = head.original;
        result.queryMeanOriginal = head.queryMean;
        const std::vector<unsigned char> rowSteered =
            steered ? std::vector<unsigned char>() : steeredRows(workload, head, params);
        const bool anyRowSteered = std::ranges::find(rowSteered, 1) != rowSteered.end();
        // The matrix view's cells, pooled to its pixels here, off the GUI thread: folded in row
        // by row while A' is computed, else from the matrix.
        const bool pool = pooling.width() > 0 && pooling.height() > 0 &&
                          (pooling.width() < head.keys || pooling.height() < head.queries);
        std::optional<RowPooler> pooler;
        if (pool && !steered && anyRowSteered)
            pooler.emplace(head.queries, head.keys, pooling.height(), pooling.width(),
                           Pooling::Max);
        if (steered) {
            result.matrixSteered = steered;
            result.queryMeanSteered = steeredMean;
        } else if (!anyRowSteered) {
            result.matrixSteered = head.original; // no row steered: A' = A
            result.queryMeanSteered = head.queryMean;
        } else {
            result.matrixSteered =
                steeredMatrix(head, s, params.lambda, rowSteered, *control.cancel,
                              result.queryMeanSteered, pooler ? &*pooler : nullptr);
        }
        if (pooler)
            result.matrixPooled = std::make_shared<const PooledMatrix>(pooler->take());
        else if (pooled)
            result.matrixPooled = pooled;
        else if (pool)
            result.matrixPooled = std::make_shared<const PooledMatrix>(
                poolMatrix(*result.matrixSteered, head.queries, head.keys, 0, head.queries, 0,
                           head.keys, pooling.height(), pooling.width(), Pooling::Max));
        result.elapsedMs = millisecondsSince(timer);
        return result;
    });
    updateBusy();
}

std::shared_ptr<const HeadMatrix> Engine::headMatrixOf(const DataSet& data,
                                                       const EvaluationRequest& request,
                                                       const std::atomic<bool>& cancel) {
    const Workload& workload = *data.workload;
    const int keys = workload.keys(), layers = workload.layers();
    // The cells of every layer's log(A + eps) together stay within the matrices' budget.
    const int queries =
        matrixQueries(workload.queries(), keys, kMaxMatrixCells / std::size_t(layers));
    const std::size_t cells = std::size_t(queries) * std::size_t(keys);
    auto matrix = std::make_shared<HeadMatrix>();
    matrix->epoch = data.epoch;
    matrix->head = request.head;
    matrix->eps = request.params.eps;
    matrix->queries = queries, matrix->keys = keys;
    matrix->layers = layers;
    auto original = std::make_shared<std::vector<double>>(cells);
    matrix->logShifted.resize(cells * std::size_t(layers));
    if (layers > 1)
        matrix->layerOriginal.resize(cells * std::size_t(layers));
    matrix->rowEntropy.resize(std::size_t(layers) * std::size_t(queries));
    for (int layer = 0; layer < layers; ++layer) {
        double* logs = matrix->logShifted.data() + std::size_t(layer) * cells;
        for (int q = 0; q < queries; ++q) {
            if (q % 64 == 0 && cancel.load())
                throw Cancelled();
            // Each layer's A goes through its logs' place; ORIGINAL collects the sum (one layer:
            // 0 + A is A exactly), divided below, as the per-token row's mean is.
            double* out = logs + std::size_t(q) * std::size_t(keys);
            workload.attentionRow(workload.unitOf(layer, request.head), q,
                                  std::span<double>(out, std::size_t(keys)));
            double* mean = original->data() + std::size_t(q) * std::size_t(keys);
            double entropy = 0; // as isRowSteered sums it
            for (int k = 0; k < keys; ++k) {
                mean[k] += out[k];
                if (out[k] > 0)
                    entropy -= out[k] * std::log(out[k]);
            }
            matrix->rowEntropy[std::size_t(layer) * std::size_t(queries) + std::size_t(q)] =
                entropy;
            if (layers > 1)
                std::copy(out, out + keys,
                          matrix->layerOriginal.data() + std::size_t(layer) * cells +
                              std::size_t(q) * std::size_t(keys));
        }
#pragma omp parallel for schedule(static)
        for (int q = 0; q < queries; ++q) {
            double* values = logs + std::size_t(q) * std::size_t(keys);
            steering::shiftedLogs(values, std::size_t(keys), request.params.eps, values);
        }
    }
    if (layers > 1)
        for (double& value : *original)
            value /= layers;
    // The mean over the query rows, once per head (it does not change with lambda).
    matrix->queryMean.assign(std::size_t(keys), 0.0);
    for (int q = 0; q < queries; ++q) {
        const double* row = original->data() + std::size_t(q) * std::size_t(keys);
        for (int k = 0; k < keys; ++k)
            matrix->queryMean[std::size_t(k)] += row[k];
    }
    for (double& value : matrix->queryMean)
        value /= std::max(queries, 1);
    matrix->original = std::move(original);
    return matrix;
}

std::vector<unsigned char> Engine::steeredRows(const Workload& workload, const HeadMatrix& head,
                                               const SteeringParams& params) {
    std::vector<unsigned char> rows(std::size_t(head.layers) * std::size_t(head.queries));
    const double gate = gateNats(params, head.keys);
    for (int layer = 0; layer < head.layers; ++layer) {
        const bool unit = isUnitSteered(workload, params, workload.unitOf(layer, head.head));
        for (int q = 0; q < head.queries; ++q) {
            const std::size_t at = std::size_t(layer) * std::size_t(head.queries) + std::size_t(q);
            const bool query =
                params.steeredQueries.empty() || params.steeredQueries[std::size_t(q)] != 0;
            rows[at] = steering::isRowSteered(unit, query, head.rowEntropy[at], gate) ? 1 : 0;
        }
    }
    return rows;
}

std::shared_ptr<const std::vector<double>>
Engine::steeredMatrix(const HeadMatrix& head, const std::vector<double>& s, double lambda,
                      const std::vector<unsigned char>& rowSteered, const std::atomic<bool>& cancel,
                      std::vector<double>& queryMean, RowPooler* pooler) {
    // Vectorized (steerRowVectorized), in two halves at once: a lambda change waits for this, and
    // the evaluation waits for it (Engine::requestEvaluation), so the cores are free. The halves
    // split where a pooled row starts, so that each pooled row is folded by one thread; each
    // half adds its rows to its own mean while they are in the cache, the halves' means are
    // added in order afterwards (the same result every time).
    const std::size_t keys = std::size_t(head.keys);
    const std::size_t cells = std::size_t(head.queries) * keys;
    auto steered = std::make_shared<std::vector<double>>(cells);
    const int middle = pooler ? pooler->firstRowOfGroupAt(head.queries / 2) : head.queries / 2;
    const int bounds[3] = {0, middle, head.queries};
    std::vector<double> sums[2];
    std::atomic<bool> stopped{false};
#pragma omp parallel for num_threads(2) schedule(static, 1)
    for (int half = 0; half < 2; ++half) {
        std::vector<double>& sum = sums[half];
        sum.assign(keys, 0.0);
        std::vector<double> layerRow(head.layers > 1 ? keys : 0);
        for (int q = bounds[half]; q < bounds[half + 1]; ++q) {
            if (q % 64 == 0 && (cancel.load() || stopped.load())) {
                stopped.store(true);
                break;
            }
            const std::size_t offset = std::size_t(q) * keys;
            double* out = steered->data() + offset;
            // Row Q of LAYER: A' where it is steered, else A as it is.
            const auto layerSteered = [&](int layer, double* into) {
                const std::size_t at = std::size_t(layer) * cells + offset;
                if (rowSteered[std::size_t(layer) * std::size_t(head.queries) + std::size_t(q)])
                    steerRowVectorized(head.logShifted.data() + at, s.data(), keys, lambda, into);
                else if (head.layers == 1)
                    std::copy_n(head.original->data() + offset, keys, into);
                else
                    std::copy_n(head.layerOriginal.data() + at, keys, into);
            };
            if (head.layers == 1) {
                layerSteered(0, out);
            } else {
                // The mean of each layer's A', summed in layer order, then divided.
                for (int layer = 0; layer < head.layers; ++layer) {
                    layerSteered(layer, layerRow.data());
                    for (std::size_t k = 0; k < keys; ++k)
                        out[k] += layerRow[k];
                }
                for (std::size_t k = 0; k < keys; ++k)
                    out[k] /= head.layers;
            }
            for (std::size_t k = 0; k < keys; ++k)
                sum[k] += out[k];
            if (pooler)
                pooler->add(q, out);
        }
    }
    if (stopped.load())
        throw Cancelled();
    queryMean.assign(keys, 0.0);
    for (const std::vector<double>& sum : sums)
        for (std::size_t k = 0; k < sum.size(); ++k)
            queryMean[k] += sum[k];
    for (double& value : queryMean)
        value /= std::max(head.queries, 1);
    return steered;
}

void Engine::requestSweepAfterEvaluation() {
    // The first evaluation of a data set (or eps) computes its moments, which takes as long as one
    // seed of the sweep: the numbers the user waits for come first, the curve after them. Lambda
    // changes in the meantime are cheap and go on during the sweep.
    sweepJob_.cancel(); // what it computes is outdated
    sweepWanted_ = true;
    if (!evaluationJob_.isRunning() && !deferredEvaluation_)
        requestSweep();
}

SweepConfig Engine::sweepConfig(const DataSet& data, const SteeringParams& params) const {
    std::vector<std::uint64_t> seeds;
    for (int i = 0; i < sweepSeeds_; ++i)
        seeds.push_back(data.scenario.spec.seed + std::uint64_t(i));
    Scenario scenario = data.scenario;
    scenario.params = params;
    SweepConfig config = sweepConfigFor(
        scenario, scenario.hasWorkloadFile() ? data.workload.get() : nullptr,
        scenario.hasFixedSaliency() ? &data.raw.values : nullptr, sweepLambdas(), std::move(seeds));
    config.grounding = data.grounding; // with a target: the target-mass and pointing gains
    // The transformer's planted object moves with the seed: the sweep takes each seed's (as
    // `attnsteer-cli sweep` does); a target the user gave is the same for every seed.
    if (data.workload->transformer() && !data.scenario.hasTarget())
        config.grounding = {};
    return config;
}

void Engine::requestSweep() {
    const std::shared_ptr<const DataSet> data = dataSet_;
    if (!data)
        return;
    sweepWanted_ = false;
    // DATA keeps the workload alive for the job; eps and steered heads may have changed since.
    const SweepConfig config = sweepConfig(*data, scenario_.params);
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
