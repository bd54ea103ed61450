#pragma once
// The window's grounding work, beside the Engine's pipelines and with the same policy (off the GUI
// thread, the latest request wins, results of an outdated data set dropped; see engine.h):
// - the grounding metrics of the rows evaluated (evaluateGrounding), for the readout, when the
//   data set has a vision span or a target; requested after each evaluation, with its steering;
// - the profile of every layer and head (profileHeads on the whole source, every layer, with the
//   engine's profile backend), for the heads view, while it is wanted; a change of lambda alone
//   waits until lambda has rested for kProfileDelayMs, so that a dragged slider does not start a
//   pass over every row at each step;
// - the comparison sweep: the tradeoff curve again with only the given heads steered (the top k
//   of the profile), whenever the engine's sweep is computed again or the heads change.

#include "engine.h"

#include "attnsteer/grounding.h"
#include "attnsteer/profile.h"

#include <QObject>
#include <QThreadPool>
#include <QTimer>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

namespace attnsteer {

/// Whether A and B steer alike (every field).
bool sameSteering(const SteeringParams& a, const SteeringParams& b);

/// The grounding metrics of the rows evaluated (the layers chosen).
struct GroundingResult {
    std::uint64_t epoch = 0; ///< the data set's
    SteeringParams params;
    Grounding grounding;
    double elapsedMs = 0;
};

/// What a profile was computed from: the whole source, its saliency, its target and vision span,
/// the steering. A new layer choice keeps it.
struct ProfileKey {
    std::uint64_t workloadId = 0; ///< DataSet::fullWorkload's
    std::vector<double> saliency;
    int visionStart = 0, visionCount = 0;
    std::vector<unsigned char> target;
    SteeringParams params;
    bool operator==(const ProfileKey& other) const;
};

/// The heads view's profile: every layer and head of the source.
struct ProfileResult {
    ProfileKey key;
    std::shared_ptr<const Profile> profile; ///< ranked by the default column
    int layers = 0;                         ///< the source's layers
    int headsPerLayer = 0;
    double elapsedMs = 0;
};

/// The tradeoff curve with only HEADS steered.
struct ComparisonResult {
    std::uint64_t epoch = 0;
    std::vector<LayerHead> heads;
    SweepOutcome sweep;
};

class GroundingJobs : public QObject {
    Q_OBJECT
  public:
    /// How long lambda must rest before the profile follows it.
    static constexpr int kProfileDelayMs = 150;

    /// Follows ENGINE: its evaluations (grounding, profile) and its sweeps (comparison).
    explicit GroundingJobs(Engine* engine, QObject* parent = nullptr);
    ~GroundingJobs() override;

    /// Whether the heads view is shown: the profile is computed only then (at once when it
    /// becomes wanted).
    void setProfileWanted(bool wanted);
    bool profileWanted() const { return profileWanted_; }
    /// The heads of the comparison curve (of the last profile's source; computed again when they,
    /// the data set, the steering or the sweep grid change); empty: none (the last one is
    /// forgotten).
    void setComparisonHeads(std::vector<LayerHead> heads);
    const std::vector<LayerHead>& comparisonHeads() const { return comparisonHeads_; }

    const GroundingResult* lastGrounding() const {
        return lastGrounding_ ? &*lastGrounding_ : nullptr;
    }
    const ProfileResult* lastProfile() const { return lastProfile_ ? &*lastProfile_ : nullptr; }
    const ComparisonResult* lastComparison() const {
        return lastComparison_ ? &*lastComparison_ : nullptr;
    }
    /// The key of a profile of DATA steered with PARAMS.
    static ProfileKey profileKey(const DataSet& data, const SteeringParams& params);
    /// Whether DATA has what the readout's grounding metrics need: a vision span or a target.
    static bool hasGrounding(const DataSet& data);

    /// Whether a job runs or waits (the profile's delay included).
    bool isBusy() const;
    /// Stops what runs and what waits.
    void cancel();

  signals:
    void groundingFinished();
    void profileFinished();
    void comparisonFinished();
    void failed(const QString& message);
    void progressChanged(attnsteer::EngineTask task, double fraction);
    void busyChanged(bool busy);

  private:
    /// The ON_DONE of a pipeline: errors told, and a result that IS_CURRENT(data set shown,
    /// result) kept in LAST, then FINISHED emitted.
    template <typename Result, typename IsCurrent>
    std::function<void(JobOutcome<Result>&&)>
    keepResult(std::optional<Result>& last, void (GroundingJobs::*finished)(), IsCurrent isCurrent);
    void onEvaluation(const EvaluationResult& result);
    void requestGrounding(const SteeringParams& params);
    void requestProfile();
    void requestComparison();
    void updateBusy();

    Engine* engine_;
    bool profileWanted_ = false;
    bool busy_ = false;
    std::vector<LayerHead> comparisonHeads_;
    /// What the latest requests were for: the same again is not requested.
    std::optional<std::pair<std::uint64_t, SteeringParams>> groundingRequested_;
    std::optional<ProfileKey> profileRequested_;
    struct ComparisonKey {
        std::uint64_t epoch = 0;
        std::vector<LayerHead> heads;
        SteeringParams params;
        std::vector<double> lambdas;
        int seeds = 0;
    };
    std::optional<ComparisonKey> comparisonRequested_;
    std::optional<GroundingResult> lastGrounding_;
    std::optional<ProfileResult> lastProfile_;
    std::optional<ComparisonResult> lastComparison_;
    QTimer profileDelay_;
    QThreadPool pool_;
    LatestJob<GroundingResult> groundingJob_;
    LatestJob<ProfileResult> profileJob_;
    LatestJob<ComparisonResult> comparisonJob_;
};

} // namespace attnsteer
