#pragma once
// Whether steering moves attention onto the object: the grounding metrics of each head, before and
// after steering. Entropy and KL say how much attention moved; these say where to.
//
// V is the set of vision tokens (the image's keys), T the target (the object's tokens, within V),
// s the normalized saliency, A a row of attention and A' the same row steered. Per row:
//   vision mass      sum_{k in V} A_k
//   target mass      sum_{k in T} A_k / sum_{k in V} A_k     (0 where the vision mass is 0)
//   pointing         1 where argmax_{k in V} A_k lies in T, else 0 (the first of equal maxima;
//                    0 where the vision mass is 0)
// and the same of A' for the steered ones; the means over a head's rows are its values. A row whose
// A has no vision mass (the image masked for it: a causal row before the image) counts 0 after
// steering too: the mass that eps lends masked keys is not attention on the object. Per head,
// from its mean attention over its queries m_k = mean_q A_{q,k} on V:
//   saliency correlation  Pearson's r between m and s over V (NaN where either is constant)
//   spatial entropy       -sum_i p_i log p_i over the 4-connected regions C_i of the cells of each
//                         frame of the grid where m_k > mean_V m, p_i = |C_i| / sum_j |C_j|:
//                         0 for one compact region, large for scattered attention (the criterion
//                         of "localization heads", Kang et al., CVPR 2025); NaN without a grid or
//                         with no cell above the mean (a map constant up to rounding)
// Since A'_k = (A_k + eps) e^{lambda s_k} / S1, the steered target mass and pointing need only
// the vision keys: sum_T E w / sum_V E w and argmax_V E_k w_k (E = A + eps, w = e^{lambda s}).

#include "attnsteer/backend.h"
#include "attnsteer/projection.h"
#include "attnsteer/workload.h"

#include <cmath>
#include <span>
#include <vector>

namespace attnsteer {

/// The keys the grounding metrics look at.
struct GroundingKeys {
    int visionStart = 0;
    /// Vision tokens from visionStart on; 0 = no vision span known: V is every key, and the vision
    /// mass and spatial entropy are not reported.
    int visionCount = 0;
    /// The vision tokens' layout, frames x rows x cols = visionCount (row-major per frame), for
    /// the spatial entropy; unset: none.
    ImageGrid grid;
    /// K flags, nonzero = a target token (only those within V count); empty = no target.
    std::vector<unsigned char> target;

    bool hasVisionSpan() const { return visionCount > 0; }
    bool hasTarget() const { return !target.empty(); }
};

/// Throws InputError about "target" for a target of other than KEYS flags or one with no token
/// within the vision span, and about "vision-offset" for a span beyond KEYS.
void checkGroundingKeys(const GroundingKeys& keys, int workloadKeys);

/// NaN: a metric that the inputs do not define (no vision span, no target, constant data).
inline constexpr double kNotAvailable = NAN;

/// The grounding metrics of a head, or of all heads (means over rows; correlation and spatial
/// entropy: means over the heads that have them). kNotAvailable where undefined.
struct GroundingSummary {
    double visionMass = kNotAvailable;
    double targetMassOriginal = kNotAvailable, targetMassSteered = kNotAvailable;
    double pointingOriginal = kNotAvailable, pointingSteered = kNotAvailable;
    double saliencyCorrelation = kNotAvailable;
    double spatialEntropy = kNotAvailable;
};

/// The grounding metrics of one lambda.
struct Grounding {
    double lambda = 0;
    GroundingSummary total;
    std::vector<GroundingSummary> heads; ///< per backend head (Workload::heads(), layer-major)
};

/// Grounding of a workload of several layers, as splitLayers (metrics.h) splits Metrics.
struct LayeredGrounding {
    struct Part {
        GroundingSummary total;
        std::vector<GroundingSummary> heads;
    };
    Part aggregate;           ///< the total as given; head h the mean of head h over the layers
    std::vector<Part> layers; ///< per layer: its heads, and their mean as its total
};

/// GROUNDING of LAYERS x HEADS_PER_LAYER backend heads (layer-major) split by layer. Means skip
/// unavailable (NaN) values; all unavailable gives unavailable.
LayeredGrounding splitLayers(const Grounding& grounding, int layers, int headsPerLayer);

/// The grounding metrics of every lambda of LAMBDAS in one pass over the rows, on the CPU with
/// THREADS OpenMP threads (0 = all cores); rows that PARAMS does not steer (their head, their
/// query, the entropy gate) keep A' = A. The results do not depend on the thread count. Throws what
/// checkSteeringInputs and checkGroundingKeys throw, Cancelled when CONTROL's flag is raised.
std::vector<Grounding> evaluateGrounding(const Workload& workload, std::span<const double> saliency,
                                         std::span<const double> lambdas,
                                         const SteeringParams& params, const GroundingKeys& keys,
                                         int threads = 0, const RunControl& control = {});

/// The spatial entropy (see the top of the file) of MAP laid out as GRID (frames x rows x cols
/// values); kNotAvailable where no cell lies above the mean.
double spatialEntropy(std::span<const double> map, const ImageGrid& grid);

/// Pearson's correlation of X and Y (equal lengths); kNotAvailable where either is constant or
/// there are fewer than 2 values.
double pearsonCorrelation(std::span<const double> x, std::span<const double> y);

} // namespace attnsteer
