#include "scenario.h"

#include "saliency_image.h"

#include "attnsteer/errors.h"
#include "attnsteer/transformer_block.h"

#include <QFileInfo>
#include <QString>

#include <algorithm>
#include <cstdio>

namespace attnsteer {

void checkScenario(const Scenario& scenario) {
    if (!scenario.logitsPath.empty() && !scenario.attentionPath.empty())
        throw settingError("logits", "cannot be combined with --attention");
    if (!scenario.saliencyPath.empty() && !scenario.saliencyImagePath.empty())
        throw settingError("saliency", "cannot be combined with --saliency-image");
    if (!scenario.targetPath.empty() && !scenario.targetMaskPath.empty())
        throw settingError("target", "cannot be combined with --target-mask");
    if (scenario.spec.kind == WorkloadKind::Transformer && scenario.hasWorkloadFile())
        throw settingError("workload", std::string("transformer cannot be combined with --") +
                                           (scenario.logitsPath.empty() ? "attention" : "logits"));
}

WorkloadSpec generatedSpec(const Scenario& scenario) {
    WorkloadSpec spec = scenario.spec;
    if (scenario.projection.grid.isSet())
        spec.transformer.grid = scenario.projection.grid;
    if (scenario.visionOffsetGiven)
        spec.transformer.visionOffset = scenario.projection.visionOffset;
    return spec;
}

namespace {
Workload loadAllLayers(const Scenario& scenario) {
    if (!scenario.logitsPath.empty())
        return Workload::loadLogits(scenario.logitsPath);
    if (!scenario.attentionPath.empty())
        return Workload::loadAttention(scenario.attentionPath);
    return Workload::generate(generatedSpec(scenario));
}
} // namespace

Workload loadWorkload(const Scenario& scenario) {
    Workload workload = loadAllLayers(scenario);
    if (!scenario.layer)
        return workload;
    return workload.selectLayers(chooseLayers(scenario.layer, workload.sourceLayers()));
}

std::optional<DumpMeta> loadDumpMeta(const Scenario& scenario, const Workload& workload) {
    const std::string& dump =
        !scenario.logitsPath.empty() ? scenario.logitsPath : scenario.attentionPath;
    if (dump.empty()) {
        if (!scenario.metaPath.empty())
            throw settingError("meta", "needs a dump (--logits or --attention)");
        return std::nullopt;
    }
    const std::string path = scenario.metaPath.empty() ? sidecarPathFor(dump) : scenario.metaPath;
    if (path.empty())
        return std::nullopt;
    return readDumpMeta(path, workload.keys(), workload.queries());
}

ProjectionOptions effectiveProjection(const Scenario& scenario, const DumpMeta* meta) {
    ProjectionOptions options = scenario.projection;
    if (scenario.isTransformer()) {
        const TransformerLayout layout = transformerLayout(generatedSpec(scenario));
        options.grid = layout.grid;
        options.visionOffset = layout.visionOffset;
    }
    if (meta && meta->hasVisionSpan()) {
        if (!options.grid.isSet())
            options.grid = meta->grid;
        if (!scenario.visionOffsetGiven)
            options.visionOffset = *meta->visionStart;
    }
    return options;
}

ImageSaliency projectSaliencyImage(const std::string& path, const ProjectionOptions& options,
                                   int keys) {
    ImageSaliency result;
    const SaliencyMap map = loadSaliencyImage(path, &result.image);
    result.imageWidth = map.width;
    result.imageHeight = map.height;
    try {
        result.projection = projectSaliencyMap(map.values, map.height, map.width, options, keys);
    } catch (const InputError& error) {
        // The projection names the "image"; the user knows it by its file name.
        if (error.subject().name == "image")
            throw fileError(path, error.problem());
        throw;
    }
    return result;
}

std::optional<RawSaliency> loadFixedSaliency(const Scenario& scenario, int keys,
                                             const ProjectionOptions& projection) {
    if (!scenario.saliencyPath.empty()) {
        RawSaliency raw;
        raw.values = loadSaliencyNpy(scenario.saliencyPath, keys);
        raw.label = scenario.saliencyPath;
        return raw;
    }
    if (!scenario.saliencyImagePath.empty()) {
        ImageSaliency image = projectSaliencyImage(scenario.saliencyImagePath, projection, keys);
        RawSaliency raw;
        raw.values = placeOnKeySequence(image.projection, keys, projection);
        raw.projection = std::move(image.projection);
        raw.image = std::move(image.image);
        raw.label = scenario.saliencyImagePath;
        return raw;
    }
    return std::nullopt;
}

RawSaliency loadRawSaliency(const Scenario& scenario, int keys,
                            const ProjectionOptions& projection) {
    if (auto fixed = loadFixedSaliency(scenario, keys, projection))
        return std::move(*fixed);
    RawSaliency raw;
    if (scenario.isTransformer())
        raw.values = simulatedSaliencyRaw(transformerLayout(generatedSpec(scenario)),
                                          scenario.simulatedSaliency, scenario.spec.seed);
    else
        raw.values = randomSaliencyRaw(keys, scenario.spec.seed);
    raw.label = saliencyLabel(scenario, PathStyle::FullPath); // "random, seed N"
    return raw;
}

NormalizedSaliency normalizeRawSaliency(const RawSaliency& raw, const Scenario& scenario) {
    NormalizedSaliency normalized =
        normalizeSaliency(raw.values, scenario.normalization, scenario.binaryThreshold);
    if (!normalized.warning.empty())
        normalized.warning = raw.label + ": " + normalized.warning;
    return normalized;
}

PreparedScenario prepareScenario(const Scenario& scenario) {
    checkScenario(scenario);
    PreparedScenario prepared;
    prepared.workload = loadWorkload(scenario);
    prepared.meta = loadDumpMeta(scenario, prepared.workload);
    prepared.projection = effectiveProjection(scenario, prepared.meta ? &*prepared.meta : nullptr);
    prepared.raw = loadRawSaliency(scenario, prepared.workload.keys(), prepared.projection);
    prepared.saliency = normalizeRawSaliency(prepared.raw, scenario);
    prepared.params = steeringParamsFor(scenario, prepared.workload.queries());
    prepared.grounding =
        groundingKeysFor(scenario, prepared.workload.keys(), prepared.projection, &prepared.raw);
    // The transformer's planted object is its target unless the user gives one.
    if (const TransformerBlock* block = prepared.workload.transformer();
        block && !scenario.hasTarget())
        prepared.grounding = block->layout().groundingKeys();
    return prepared;
}

GroundingKeys groundingKeysFor(const Scenario& scenario, int keys,
                               const ProjectionOptions& projection, const RawSaliency* raw) {
    GroundingKeys grounding;
    grounding.visionStart = projection.visionOffset;
    if (projection.grid.isSet())
        grounding.grid = projection.grid;
    else if (raw && raw->projection)
        grounding.grid = {raw->projection->frames, raw->projection->gridHeight,
                          raw->projection->gridWidth};
    grounding.visionCount = int(grounding.grid.tokenCount());
    if (!scenario.targetPath.empty()) {
        const std::vector<double> values =
            loadVectorNpy(scenario.targetPath, std::size_t(keys), "target", "keys");
        for (double v : values)
            grounding.target.push_back(v != 0 ? 1 : 0);
    } else if (!scenario.targetMaskPath.empty()) {
        const ImageSaliency mask = projectSaliencyImage(scenario.targetMaskPath, projection, keys);
        for (double v : placeOnKeySequence(mask.projection, keys, projection))
            grounding.target.push_back(v >= 0.5 ? 1 : 0);
    }
    checkGroundingKeys(grounding, keys);
    return grounding;
}

SteeringParams steeringParamsFor(const Scenario& scenario, int queries) {
    SteeringParams params = scenario.params;
    if (!scenario.gatePath.empty())
        for (double v : loadVectorNpy(scenario.gatePath, std::size_t(queries), "gate", "queries"))
            params.steeredQueries.push_back(v >= scenario.gateThreshold ? 1 : 0);
    return params;
}

SweepConfig sweepConfigFor(const Scenario& scenario, const Workload* fileWorkload,
                           const std::vector<double>* fixedSaliency, std::vector<double> lambdas,
                           std::vector<std::uint64_t> seeds) {
    SweepConfig config;
    config.spec = generatedSpec(scenario);
    config.simulatedSaliency = scenario.simulatedSaliency;
    config.workload = fileWorkload;
    if (fixedSaliency)
        config.saliencyRaw = *fixedSaliency;
    config.normalization = scenario.normalization;
    config.binaryThreshold = scenario.binaryThreshold;
    config.params = scenario.params;
    config.threads = scenario.threads;
    config.lambdas = std::move(lambdas);
    config.seeds = std::move(seeds);
    // erase, not resize(1): GCC 12 warned (-Warray-bounds, a false positive) on the latter.
    if (fileWorkload && fixedSaliency && config.seeds.size() > 1)
        config.seeds.erase(config.seeds.begin() + 1, config.seeds.end());
    return config;
}

std::vector<double> evenLambdaGrid(int points, double max) {
    if (points < 2)
        return {0.0};
    std::vector<double> lambdas(static_cast<std::size_t>(points));
    for (int i = 0; i < points; ++i)
        lambdas[std::size_t(i)] = max * i / (points - 1);
    lambdas.back() = max;
    return lambdas;
}

int matrixQueries(int queries, int keys, std::size_t maxCells) {
    const std::size_t fit = std::max<std::size_t>(1, maxCells / std::size_t(std::max(keys, 1)));
    return int(std::min<std::size_t>(std::size_t(std::max(queries, 0)), fit));
}

SweepConfig PreparedSweep::config() const {
    SweepConfig config = baseConfig;
    config.workload = workload ? &*workload : nullptr;
    return config;
}

PreparedSweep prepareSweep(const Scenario& scenario, std::vector<double> lambdas,
                           std::vector<std::uint64_t> seeds) {
    checkScenario(scenario);
    PreparedSweep prepared;
    if (scenario.hasWorkloadFile())
        prepared.workload = loadWorkload(scenario);
    else if (scenario.spec.heads < 1 || scenario.spec.queries < 1 || scenario.spec.keys < 1)
        throw inputError("workload", "heads, queries and keys must be at least 1");
    const int keys = prepared.workload ? prepared.workload->keys() : scenario.spec.keys;
    if (prepared.workload)
        prepared.meta = loadDumpMeta(scenario, *prepared.workload);
    else if (scenario.layer && chooseLayers(scenario.layer, 1).empty())
        throw settingError("layer", "no layer selected"); // checks the choice against 1 layer
    prepared.saliency = loadFixedSaliency(
        scenario, keys, effectiveProjection(scenario, prepared.meta ? &*prepared.meta : nullptr));
    if (prepared.saliency)
        prepared.warning = normalizeRawSaliency(*prepared.saliency, scenario).warning;

    prepared.baseConfig =
        sweepConfigFor(scenario, prepared.workload ? &*prepared.workload : nullptr,
                       prepared.saliency ? &prepared.saliency->values : nullptr, std::move(lambdas),
                       std::move(seeds));
    prepared.baseConfig.workload = nullptr; // config() points it at this object's workload
    const ProjectionOptions projection =
        effectiveProjection(scenario, prepared.meta ? &*prepared.meta : nullptr);
    prepared.baseConfig.grounding = groundingKeysFor(
        scenario, keys, projection, prepared.saliency ? &*prepared.saliency : nullptr);
    prepared.baseConfig.params = steeringParamsFor(
        scenario, prepared.workload ? prepared.workload->queries() : scenario.spec.queries);
    return prepared;
}

namespace {
std::string shownPath(const std::string& path, PathStyle style) {
    return style == PathStyle::FullPath
               ? path
               : QFileInfo(QString::fromStdString(path)).fileName().toStdString();
}
} // namespace

std::string workloadLabel(const Scenario& scenario, PathStyle style) {
    if (!scenario.logitsPath.empty())
        return "logits file " + shownPath(scenario.logitsPath, style);
    if (!scenario.attentionPath.empty())
        return "attention file " + shownPath(scenario.attentionPath, style);
    if (scenario.isTransformer())
        return "transformer block, seed " + std::to_string(scenario.spec.seed);
    return "random logits, seed " + std::to_string(scenario.spec.seed);
}

std::string saliencyLabel(const Scenario& scenario, PathStyle style) {
    if (!scenario.saliencyImagePath.empty())
        return "image " + shownPath(scenario.saliencyImagePath, style);
    if (!scenario.saliencyPath.empty())
        return "file " + shownPath(scenario.saliencyPath, style);
    if (scenario.isTransformer()) {
        const SimulatedSaliencySpec& simulated = scenario.simulatedSaliency;
        char text[96];
        std::snprintf(text, sizeof text, "simulated, quality %g", simulated.quality);
        std::string label = text;
        if (simulated.blur > 0) {
            std::snprintf(text, sizeof text, ", blur %g", simulated.blur);
            label += text;
        }
        return label + ", seed " + std::to_string(scenario.spec.seed);
    }
    return "random, seed " + std::to_string(scenario.spec.seed);
}

} // namespace attnsteer
