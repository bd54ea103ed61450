#pragma once
// Which heads to steer: a profile of every (layer, head) at one lambda (the backend's entropy, KL
// and saliency expectation beside the grounding pass's metrics), and a ranking by a column.
//
//   steerability     (sum A' s - sum A s) / KL(A||A'), means over the head's rows: how much the
//                    attention's saliency expectation gains per nat of divergence (NaN where KL
//                    is 0, an unsteered head)
//   grounding score  vision mass x max(0, saliency correlation) (vision mass 1 without a vision
//                    span): high for a head that attends to the image and, there, to where the
//                    saliency is, i.e. a head that already half sees the object, whose bias
//                    amplifies what it does; 0 for a head that looks elsewhere. The default
//                    ranking; any other column can rank instead.

#include "attnsteer/backend.h"
#include "attnsteer/grounding.h"
#include "attnsteer/metrics.h"
#include "attnsteer/workload.h"

#include <cstddef>
#include <span>
#include <string_view>
#include <vector>

namespace attnsteer {

/// One (layer, head) of a profile.
struct HeadProfile {
    int layer = 0; ///< the source's layer index
    int head = 0;  ///< within the layer
    MetricSummary metrics;
    GroundingSummary grounding;
    double steerability = kNotAvailable;
    double groundingScore = 0;
};

/// A column of a profile: its name in JSON, CSV, --rank-by and the window.
struct ProfileColumn {
    std::string_view name;
    std::string_view description; ///< a short phrase for tooltips and --help
    bool higherIsBetter;          ///< how a ranking by it orders the heads
    double (*value)(const HeadProfile&);
};

/// Every numeric column, in the order of the CSV after "layer" and "head".
std::span<const ProfileColumn> profileColumns();
/// The column called NAME, or null.
const ProfileColumn* findProfileColumn(std::string_view name);
/// The ranking's default column: "grounding_score".
inline constexpr std::string_view kDefaultRankColumn = "grounding_score";

struct Profile {
    double lambda = 0;
    std::vector<HeadProfile> heads; ///< per backend head (layer-major)
    MetricSummary total;            ///< over every row
    GroundingSummary totalGrounding;
    std::vector<std::size_t> ranking; ///< indices into HEADS, best first
    std::string_view rankedBy = kDefaultRankColumn;
};

/// Indices of HEADS ordered best first by COLUMN (its direction; NaN last; ties by index).
std::vector<std::size_t> rankHeads(std::span<const HeadProfile> heads, const ProfileColumn& column);

/// The profile of WORKLOAD at PARAMS.lambda: METRICS (backend.evaluate of the same inputs) and
/// GROUNDING (evaluateGrounding) joined per head, ranked by RANK_BY.
Profile makeProfile(const Workload& workload, const Metrics& metrics, const Grounding& grounding,
                    const ProfileColumn& rankBy);

/// Both passes and the join: BACKEND for the entropies, KL and expectations, the CPU grounding
/// pass with THREADS threads. CONTROL's progress covers both.
Profile profileHeads(const Workload& workload, std::span<const double> saliency,
                     const SteeringParams& params, const GroundingKeys& keys, Backend& backend,
                     int threads = 0, const ProfileColumn* rankBy = nullptr,
                     const RunControl& control = {});

/// The top COUNT heads of PROFILE's ranking as steered heads of their layers (for
/// SteeringParams::steeredLayerHeads), in ranking order.
std::vector<LayerHead> topHeads(const Profile& profile, std::size_t count);

} // namespace attnsteer
