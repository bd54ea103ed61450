#pragma once
// The window's engine: turns the user's Scenario into a workload and saliency, evaluates lambda,
// sweeps the tradeoff curve, all off the GUI thread (QtConcurrent on its own pool, one thread per
// pipeline). Four pipelines: the data set (workload + saliency), the rows (per-token row and the
// matrix of one head), the evaluation (metrics over all rows, with progress and cancel through
// RunControl) and the sweep. In each the latest request wins: a request that comes while a job
// runs is remembered (only the newest) and started when the job finishes. Results computed on an
// outdated data set are dropped; a finished rows or evaluation job whose lambda has already been
// superseded in the same data set is still shown (it is a correct picture of a lambda the user
// passed through, which keeps a dragged slider live), and the newest follows. A sweep that a new
// data set (or eps, steered heads, backend) needs starts once the evaluation has finished: on big
// workloads the first evaluation computes the moments that later lambdas reuse, and it should
// not share the cores with three seeds of sweep.

#include "heat_map.h"
#include "latest_job.h"
#include "scenario.h"

#include "attnsteer/backend.h"
#include "attnsteer/metrics.h"
#include "attnsteer/sweep.h"

#include <QImage>
#include <QObject>
#include <QSize>
#include <QString>
#include <QThreadPool>

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

namespace attnsteer {

/// The workload and saliency that every evaluation uses; shared read-only with the jobs.
struct DataSet {
    /// Every layer of the source, as loaded and checked once: a change of layer selects from it
    /// (Workload::selectLayers) instead of reading the file again.
    std::shared_ptr<const Workload> fullWorkload;
    /// The layers of scenario.layer (fullWorkload itself when all are chosen): what is evaluated.
    std::shared_ptr<const Workload> workload;
    std::optional<DumpMeta> meta; ///< the dump's sidecar (tokens, vision span, grid), if any
    QImage metaImage;             ///< the sidecar's "image", decoded off the GUI thread, or null
    std::string metaImageWarning; ///< why the sidecar's image could not be decoded, or empty
    ProjectionOptions projection; ///< the scenario's, with the sidecar's grid and offset
    RawSaliency raw;              ///< per-key saliency before normalization (+ image projection)
    NormalizedSaliency saliency;  ///< s, K values, and a warning for a constant input
    GroundingKeys grounding;      ///< the vision span and the target (groundingKeysFor)
    Scenario scenario;            ///< what it was made from
    std::uint64_t epoch = 0;      ///< grows with every new data set
    double elapsedMs = 0;         ///< time to load or generate it
};

/// What a lambda evaluation is about: the steering and the row and head shown.
struct EvaluationRequest {
    SteeringParams params;
    int head = 0;  ///< head (within a layer) of the per-token row and of the matrix
    int query = 0; ///< query of the per-token row
};

/// A of one head and log(A + eps): what the matrix of A' needs besides lambda and s, kept while
/// lambda moves. With several layers selected, A is the mean over them and log(A + eps) is kept
/// per layer (A' is the mean of each layer's A').
struct HeadMatrix {
    std::uint64_t epoch = 0;
    int head = -1; ///< head within a layer
    double eps = 0;
    int queries = 0, keys = 0;
    int layers = 1;                                      ///< layers averaged
    std::shared_ptr<const std::vector<double>> original; ///< A (mean over layers), Q x K
    /// log(A + eps) of each layer, LAYERS x Q x K, -inf where A + eps = 0.
    std::vector<double> logShifted;
    /// A of each layer, LAYERS x Q x K, when LAYERS > 1 (one layer: ORIGINAL): what the rows that
    /// are not steered keep.
    std::vector<double> layerOriginal;
    /// H(A) of each layer's rows, LAYERS x Q, as isRowSteered computes it: the entropy gate.
    std::vector<double> rowEntropy;
    std::vector<double> queryMean; ///< the mean of A over the Q rows, per key
};

/// The per-token row and the matrix of one head for a request. With several layers selected
/// ("All layers"), the row and the matrix are the means over the layers of A and of A'.
struct RowsResult {
    std::uint64_t epoch = 0;
    EvaluationRequest request;
    TokenRow row;    ///< A and A' of (head, query), or their means over the layers
    int layers = 1;  ///< layers the row and the matrix are the mean of
    int layer = -1;  ///< the source's layer of the row when one layer of several is shown, or -1
    int queries = 0; ///< rows of the matrix (the first ones: at most kMaxMatrixCells / layers)
    int keys = 0;
    std::shared_ptr<const std::vector<double>> matrixOriginal; ///< A of head, queries x keys
    std::shared_ptr<const std::vector<double>> matrixSteered;  ///< A' of head, queries x keys
    std::shared_ptr<const HeadMatrix> headMatrix;              ///< kept by the engine for reuse
    /// matrixSteered pooled (Max) to the matrix view's pixels (Engine::setMatrixPooling), or null.
    std::shared_ptr<const PooledMatrix> matrixPooled;
    /// Mean over the matrix's query rows of A and of A', K values each (the image view's "mean
    /// over queries").
    std::vector<double> queryMeanOriginal, queryMeanSteered;
    double elapsedMs = 0;
};

/// The metrics of a request over all rows.
struct EvaluationResult {
    std::uint64_t epoch = 0;
    EvaluationRequest request;
    Metrics metrics; ///< metrics.backend: the backend that computed them
};

/// The tradeoff curve over the lambda grid and seeds.
struct SweepOutcome {
    std::uint64_t epoch = 0;
    std::vector<SweepRow> rows;
    std::vector<std::uint64_t> seeds;
    SteeringParams params;
    double elapsedMs = 0;
};

/// The jobs of the engine (and of GroundingJobs) that report progress.
enum class EngineTask { Evaluation, Sweep, Grounding, Profile, ComparisonSweep };

/// Where the evaluation and the sweep run. The per-token row and the matrix are always computed
/// on the CPU (one row, one head: a kernel launch would cost more than the work).
enum class BackendKind { Cpu, Cuda };

class Engine : public QObject {
    Q_OBJECT
  public:
    explicit Engine(QObject* parent = nullptr);
    ~Engine() override;

    /// The scenario to show. Whatever it changes is recomputed: the workload and saliency when
    /// sizes, seed, sigma, files or normalization change (then the evaluation and the sweep), the
    /// evaluation and the sweep when eps or the steered heads change, only the evaluation when
    /// only lambda changes. Nothing runs until start() was called once. With a dump as the
    /// workload the generated kind is random (a transformer would conflict with it); the workload
    /// box's kind applies again once the dump is dropped.
    void setScenario(const Scenario& scenario);
    const Scenario& scenario() const { return scenario_; }
    /// The head (within a layer: 0 .. H - 1) and query of the per-token row and the matrix.
    void setView(int head, int query);
    int head() const { return head_; }
    int query() const { return query_; }
    /// The size (columns x rows) the matrix view draws the whole matrix of A' at: the rows jobs
    /// pool it to that, off the GUI thread (RowsResult::matrixPooled). Empty: no pooling.
    void setMatrixPooling(QSize cells);
    /// The sweep's lambda grid (POINTS values from 0 to LAMBDA_MAX) and seed count (seeds
    /// scenario.spec.seed, +1, ...). Recomputes the sweep when they change.
    void setSweepGrid(double lambdaMax, int points, int seeds);
    double sweepLambdaMax() const { return sweepLambdaMax_; }
    int sweepPoints() const { return sweepPoints_; }
    int sweepSeeds() const { return sweepSeeds_; }

    /// The evaluation and the sweep run on KIND from now on (both are recomputed). CUDA when the
    /// backend cannot be made (no device, no CUDA in this build, an error while starting): stays
    /// on (or goes back to) the CPU, emits backendUnavailable with the reason and returns false.
    /// When the CUDA backend fails later (out of device memory for a bigger workload), the job is
    /// computed again on the CPU, the engine stays on the CPU and backendFellBack is emitted.
    bool setBackend(BackendKind kind);
    BackendKind backend() const { return backendKind_; }
    /// Makes the CUDA backends (gpu::makeCudaBackend unless replaced; tests inject failing ones).
    using BackendFactory = std::function<std::unique_ptr<Backend>()>;
    void setCudaBackendFactory(BackendFactory factory) { cudaFactory_ = std::move(factory); }

    /// Starts working (the first call), or recomputes everything from scratch (F5).
    void start();
    /// Prepares the data set again, the saliency file read anew (the same image loaded once
    /// more); the workload is kept unless its source changed. Nothing runs before start().
    void reloadSaliency();
    /// Stops what runs: the data set, evaluation and sweep jobs (results are dropped).
    void cancel();
    bool isBusy() const;

    std::shared_ptr<const DataSet> dataSet() const { return dataSet_; }
    const EvaluationResult* lastEvaluation() const {
        return lastEvaluation_ ? &*lastEvaluation_ : nullptr;
    }
    const RowsResult* lastRows() const { return lastRows_ ? &*lastRows_ : nullptr; }
    const SweepOutcome* lastSweep() const { return lastSweep_ ? &*lastSweep_ : nullptr; }
    /// The lambda grid of the sweep.
    std::vector<double> sweepLambdas() const;
    /// The sweep of DATA steered with PARAMS over the sweep grid and seeds (with DATA's target,
    /// the target's gains too). It points into DATA.
    SweepConfig sweepConfig(const DataSet& data, const SteeringParams& params) const;
    /// The backends of the heads profile and of the comparison sweep (GroundingJobs): of the
    /// kind in use, each with its own caches.
    std::shared_ptr<Backend> profileBackend() const { return profileBackend_; }
    std::shared_ptr<Backend> comparisonBackend() const { return comparisonBackend_; }

  signals:
    void workloadStarted();
    /// A new data set (workload + saliency) is in place.
    void workloadReady();
    void rowsFinished(const attnsteer::RowsResult& result);
    void evaluationFinished(const attnsteer::EvaluationResult& result);
    void sweepStarted();
    void sweepFinished(const attnsteer::SweepOutcome& result);
    /// A job failed with this one-line error (InputError::what()). When the data set failed, the
    /// scenario's files and projection are back to those of the data set shown (scenarioRestored
    /// comes first).
    void failed(const QString& message);
    /// The scenario went back to the last valid one after a data set failed: controls that show
    /// it (the projection options) should follow scenario().
    void scenarioRestored();
    /// The CUDA backend could not be used (REASON, one line); the engine runs on the CPU now.
    void backendFellBack(const QString& reason);
    /// The CUDA backend could not be started (MESSAGE, one line, as the window words it); the
    /// engine stays on the CPU.
    void backendUnavailable(const QString& message);
    /// TASK is FRACTION (0..1) done.
    void progressChanged(attnsteer::EngineTask task, double fraction);
    /// Some job started or all jobs finished.
    void busyChanged(bool busy);

  private:
    /// REREAD: the saliency is read anew even when only the layer changed (F5, a reload).
    void requestDataSet(bool reread);
    void dataSetFailed(const QString& message);
    /// The evaluation of the current request and the rows: a new data set's together; a new
    /// lambda's evaluation after the rows (deferredEvaluation_), so that the views come first.
    void requestEvaluation(bool dataChanged);
    void startDeferredEvaluation();
    void requestRows();
    void requestSweep();
    void requestSweepAfterEvaluation();
    void updateBusy();
    void fallBackToCpu(const QString& reason);
    static std::shared_ptr<const HeadMatrix> headMatrixOf(const DataSet& data,
                                                          const EvaluationRequest& request,
                                                          const std::atomic<bool>& cancel);
    /// A' of HEAD's rows at LAMBDA (the mean over its layers' A'), and their mean over the rows
    /// into QUERY_MEAN. ROW_STEERED (LAYERS x Q flags) says which rows get the bias; the others
    /// keep A' = A. POOLER (when given) gets every row of A' as it is made.
    static std::shared_ptr<const std::vector<double>>
    steeredMatrix(const HeadMatrix& head, const std::vector<double>& s, double lambda,
                  const std::vector<unsigned char>& rowSteered, const std::atomic<bool>& cancel,
                  std::vector<double>& queryMean, RowPooler* pooler = nullptr);
    /// Which rows of HEAD (LAYERS x Q) PARAMS steers: the head in that layer, the query, the
    /// entropy gate (isRowSteered).
    static std::vector<unsigned char> steeredRows(const Workload& workload, const HeadMatrix& head,
                                                  const SteeringParams& params);
    EvaluationRequest currentRequest() const;

    Scenario scenario_;
    int head_ = 0, query_ = 0;
    bool openOnLastQuery_ = false; ///< the data set on its way is a new dump: show its last row
    double sweepLambdaMax_ = 1.0;
    int sweepPoints_ = 64, sweepSeeds_ = 3;
    bool started_ = false;
    bool busy_ = false;
    bool sweepWanted_ = false; ///< a sweep waits for the running evaluation
    std::uint64_t nextEpoch_ = 1;
    std::shared_ptr<const DataSet> dataSet_;
    std::optional<EvaluationResult> lastEvaluation_;
    std::optional<RowsResult> lastRows_;
    std::optional<SweepOutcome> lastSweep_;
    /// What the last matrix of A' was computed for, so that a query change reuses it.
    struct MatrixKey {
        std::uint64_t epoch = 0;
        int head = -1;
        double lambda = 0, eps = 0, gate = 0;
        std::vector<int> heads;
        std::vector<LayerHead> layerHeads;
        std::vector<unsigned char> queries;
        bool operator==(const MatrixKey&) const = default;
        MatrixKey() = default;
        MatrixKey(std::uint64_t epoch, int head, const SteeringParams& params)
            : epoch(epoch), head(head), lambda(params.lambda), eps(params.eps),
              gate(params.gateEntropy), heads(params.steeredHeads),
              layerHeads(params.steeredLayerHeads), queries(params.steeredQueries) {}
    };
    MatrixKey matrixKey_;
    std::shared_ptr<const std::vector<double>> matrixSteered_;
    std::vector<double> matrixSteeredMean_;            ///< its mean over the query rows
    std::shared_ptr<const PooledMatrix> matrixPooled_; ///< it pooled (setMatrixPooling)
    QSize matrixPooling_;
    std::shared_ptr<const HeadMatrix> headMatrix_;

    QThreadPool pool_;
    BackendKind backendKind_ = BackendKind::Cpu;
    BackendFactory cudaFactory_;
    std::shared_ptr<Backend> cpuEvaluationBackend_; ///< keeps the moments of the last data set
    std::shared_ptr<Backend> cpuSweepBackend_;
    std::shared_ptr<Backend> cpuProfileBackend_, cpuComparisonBackend_;
    std::shared_ptr<Backend> evaluationBackend_; ///< the CPU one above, or a CUDA one
    std::shared_ptr<Backend> sweepBackend_;
    std::shared_ptr<Backend> profileBackend_, comparisonBackend_;
    std::shared_ptr<Backend> rowBackend_;
    LatestJob<std::shared_ptr<const DataSet>> dataJob_;
    LatestJob<RowsResult> rowsJob_;
    LatestJob<EvaluationResult> evaluationJob_;
    /// An evaluation waiting for the running rows job (the newest only).
    std::optional<LatestJob<EvaluationResult>::Work> deferredEvaluation_;
    LatestJob<SweepOutcome> sweepJob_;
};

} // namespace attnsteer

Q_DECLARE_METATYPE(attnsteer::RowsResult)
Q_DECLARE_METATYPE(attnsteer::EvaluationResult)
Q_DECLARE_METATYPE(attnsteer::SweepOutcome)
