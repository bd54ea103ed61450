#include "grounding_jobs.h"

#include <QElapsedTimer>

#include <algorithm>
#include <span>

namespace attnsteer {

namespace {

double millisecondsSince(const QElapsedTimer& timer) {
    return timer.nsecsElapsed() / 1e6;
}

RunControl runControl(const JobControl& control) {
    RunControl run;
    run.cancel = control.cancel.get();
    run.onProgress = control.progress;
    return run;
}

/// Whether every head of HEADS exists in WORKLOAD's source.
bool headsExist(const std::vector<LayerHead>& heads, const Workload& workload) {
    return std::ranges::all_of(heads, [&](const LayerHead& one) {
        return one.layer >= 0 && one.layer < workload.sourceLayers() && one.head >= 0 &&
               one.head < workload.headsPerLayer();
    });
}

} // namespace

bool sameSteering(const SteeringParams& a, const SteeringParams& b) {
    return a.lambda == b.lambda && a.eps == b.eps && a.steeredHeads == b.steeredHeads &&
           a.steeredLayerHeads == b.steeredLayerHeads && a.gateEntropy == b.gateEntropy &&
           a.steeredQueries == b.steeredQueries;
}

bool ProfileKey::operator==(const ProfileKey& other) const {
    return workloadId == other.workloadId && saliency == other.saliency &&
           visionStart == other.visionStart && visionCount == other.visionCount &&
           target == other.target && sameSteering(params, other.params);
}

template <typename Result, typename IsCurrent>
std::function<void(JobOutcome<Result>&&)>
GroundingJobs::keepResult(std::optional<Result>& last, void (GroundingJobs::*finished)(),
                          IsCurrent isCurrent) {
    return [this, &last, finished, isCurrent](JobOutcome<Result>&& outcome) {
        updateBusy();
        if (outcome.cancelled)
            return;
        if (!outcome.error.isEmpty()) {
            emit failed(outcome.error);
            return;
        }
        const auto data = engine_->dataSet();
        if (!data || !isCurrent(*data, *outcome.value))
            return; // of a data set (or heads) no longer shown
        last = std::move(*outcome.value);
        emit(this->*finished)();
    };
}

GroundingJobs::GroundingJobs(Engine* engine, QObject* parent)
    : QObject(parent), engine_(engine),
      groundingJob_(this, &pool_,
                    keepResult(lastGrounding_, &GroundingJobs::groundingFinished,
                               [](const DataSet& data, const GroundingResult& result) {
                                   return result.epoch == data.epoch;
                               }),
                    [this](double f) { emit progressChanged(EngineTask::Grounding, f); }),
      profileJob_(this, &pool_,
                  keepResult(lastProfile_, &GroundingJobs::profileFinished,
                             [](const DataSet& data, const ProfileResult& result) {
                                 return result.key.workloadId == data.fullWorkload->id();
                             }),
                  [this](double f) { emit progressChanged(EngineTask::Profile, f); }),
      comparisonJob_(this, &pool_,
                     keepResult(lastComparison_, &GroundingJobs::comparisonFinished,
                                [this](const DataSet& data, const ComparisonResult& result) {
                                    return result.epoch == data.epoch &&
                                           result.heads == comparisonHeads_;
                                }),
                     [this](double f) { emit progressChanged(EngineTask::ComparisonSweep, f); }) {
    // One thread per pipeline; the passes themselves spread over the cores (OpenMP).
    pool_.setMaxThreadCount(3);
    profileDelay_.setSingleShot(true);
    profileDelay_.setInterval(kProfileDelayMs);
    connect(&profileDelay_, &QTimer::timeout, this, [this] {
        profileRequested_.reset(); // lambda has rested: the newest is requested now
        requestProfile();
        updateBusy();
    });
    connect(engine_, &Engine::evaluationFinished, this, &GroundingJobs::onEvaluation);
    connect(engine_, &Engine::sweepStarted, this, &GroundingJobs::requestComparison);
}

GroundingJobs::~GroundingJobs() {
    cancel();
}

ProfileKey GroundingJobs::profileKey(const DataSet& data, const SteeringParams& params) {
    ProfileKey key;
    key.workloadId = data.fullWorkload->id();
    key.saliency = data.saliency.values;
    key.visionStart = data.grounding.visionStart;
    key.visionCount = data.grounding.visionCount;
    key.target = data.grounding.target;
    key.params = params;
    return key;
}

bool GroundingJobs::hasGrounding(const DataSet& data) {
    return data.grounding.hasVisionSpan() || data.grounding.hasTarget();
}

void GroundingJobs::setProfileWanted(bool wanted) {
    if (wanted == profileWanted_)
        return;
    profileWanted_ = wanted;
    if (wanted) {
        requestProfile();
    } else {
        profileDelay_.stop();
        profileJob_.cancel();
        profileRequested_.reset();
    }
    updateBusy();
}

void GroundingJobs::setComparisonHeads(std::vector<LayerHead> heads) {
    if (heads.empty() && comparisonHeads_.empty())
        return;
    comparisonHeads_ = std::move(heads);
    if (comparisonHeads_.empty()) {
        comparisonJob_.cancel();
        comparisonRequested_.reset();
        lastComparison_.reset();
        emit comparisonFinished(); // the curve goes away
    } else {
        requestComparison();
    }
    updateBusy();
}

bool GroundingJobs::isBusy() const {
    return groundingJob_.isRunning() || profileJob_.isRunning() || comparisonJob_.isRunning() ||
           profileDelay_.isActive();
}

void GroundingJobs::cancel() {
    profileDelay_.stop();
    groundingJob_.cancel();
    profileJob_.cancel();
    comparisonJob_.cancel();
    // What was cancelled is requested again by the next change.
    groundingRequested_.reset();
    profileRequested_.reset();
    comparisonRequested_.reset();
}

void GroundingJobs::updateBusy() {
    const bool busy = isBusy();
    if (busy != busy_) {
        busy_ = busy;
        emit busyChanged(busy);
    }
}

void GroundingJobs::onEvaluation(const EvaluationResult& result) {
    const auto data = engine_->dataSet();
    if (!data || result.epoch != data->epoch)
        return;
    if (hasGrounding(*data))
        requestGrounding(result.request.params);
    requestProfile();
    updateBusy();
}

void GroundingJobs::requestGrounding(const SteeringParams& params) {
    const auto data = engine_->dataSet();
    if (groundingRequested_ && groundingRequested_->first == data->epoch &&
        sameSteering(groundingRequested_->second, params))
        return;
    // A new data set makes the running pass useless; a new lambda is next anyway.
    const bool newData = !groundingRequested_ || groundingRequested_->first != data->epoch;
    groundingRequested_.emplace(data->epoch, params);
    groundingJob_.request(
        [data, params](const JobControl& control) {
            QElapsedTimer timer;
            timer.start();
            GroundingResult result;
            result.epoch = data->epoch;
            result.params = params;
            const double lambda = params.lambda;
            result.grounding =
                evaluateGrounding(*data->workload, data->saliency.values, std::span(&lambda, 1),
                                  params, data->grounding, 0, runControl(control))
                    .front();
            result.elapsedMs = millisecondsSince(timer);
            return result;
        },
        newData);
}

void GroundingJobs::requestProfile() {
    const auto data = engine_->dataSet();
    const EvaluationResult* evaluation = engine_->lastEvaluation();
    if (!profileWanted_ || !data || !evaluation || evaluation->epoch != data->epoch)
        return;
    ProfileKey key = profileKey(*data, evaluation->request.params);
    if (profileRequested_) {
        if (*profileRequested_ == key)
            return;
        ProfileKey lambdaMoved = *profileRequested_;
        lambdaMoved.params.lambda = key.params.lambda;
        if (lambdaMoved == key) {
            // Only lambda moved: the profile follows once it rests; the one running is outdated
            // and would only take the cores from the views that follow the slider.
            profileJob_.cancel();
            profileDelay_.start();
            return;
        }
    }
    profileDelay_.stop();
    profileRequested_ = key;
    const std::shared_ptr<Backend> backend = engine_->profileBackend();
    profileJob_.request(
        [data, key = std::move(key), backend](const JobControl& control) {
            QElapsedTimer timer;
            timer.start();
            ProfileResult result;
            const Workload& workload = *data->fullWorkload;
            result.key = key;
            result.layers = workload.sourceLayers();
            result.headsPerLayer = workload.headsPerLayer();
            result.profile = std::make_shared<const Profile>(
                profileHeads(workload, data->saliency.values, key.params, data->grounding, *backend,
                             0, nullptr, runControl(control)));
            result.elapsedMs = millisecondsSince(timer);
            return result;
        },
        true);
}

void GroundingJobs::requestComparison() {
    // The heads come from the profile of this source (another source's may not exist here).
    const auto data = engine_->dataSet();
    if (!data || comparisonHeads_.empty() || !lastProfile_ ||
        lastProfile_->key.workloadId != data->fullWorkload->id() ||
        !headsExist(comparisonHeads_, *data->workload))
        return;
    SteeringParams params = engine_->scenario().params;
    params.lambda = 0; // the sweep's grid decides
    params.steeredHeads.clear();
    params.steeredLayerHeads = comparisonHeads_;
    ComparisonKey key{data->epoch, comparisonHeads_, params, engine_->sweepLambdas(),
                      engine_->sweepSeeds()};
    if (comparisonRequested_ && comparisonRequested_->epoch == key.epoch &&
        comparisonRequested_->heads == key.heads &&
        sameSteering(comparisonRequested_->params, key.params) &&
        comparisonRequested_->lambdas == key.lambdas && comparisonRequested_->seeds == key.seeds)
        return;
    comparisonRequested_ = key;
    const SweepConfig config = engine_->sweepConfig(*data, params);
    const std::shared_ptr<Backend> backend = engine_->comparisonBackend();
    comparisonJob_.request(
        [data, config, backend, heads = comparisonHeads_](const JobControl& control) {
            QElapsedTimer timer;
            timer.start();
            ComparisonResult result;
            result.epoch = data->epoch;
            result.heads = heads;
            result.sweep.epoch = data->epoch;
            result.sweep.rows = runSweep(config, *backend, runControl(control));
            result.sweep.seeds = config.seeds;
            result.sweep.params = config.params;
            result.sweep.elapsedMs = millisecondsSince(timer);
            return result;
        },
        true);
    updateBusy();
}

} // namespace attnsteer
