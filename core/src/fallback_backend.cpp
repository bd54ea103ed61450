#include "attnsteer/fallback_backend.h"

#include "attnsteer/errors.h"

namespace attnsteer {

FallbackBackend::FallbackBackend(std::shared_ptr<Backend> primary,
                                 std::shared_ptr<Backend> fallback, Notify onFallBack)
    : primary_(std::move(primary)), fallback_(std::move(fallback)),
      onFallBack_(std::move(onFallBack)) {}

std::string FallbackBackend::name() const {
    return fellBack_.load() ? fallback_->name() : primary_->name();
}

template <typename Call> auto FallbackBackend::run(Call&& call) {
    if (!fellBack_.load()) {
        try {
            return call(*primary_);
        } catch (const DeviceError& error) {
            fellBack_.store(true);
            std::call_once(notified_, [&] {
                if (onFallBack_)
                    onFallBack_(error.what());
            });
        }
    }
    return call(*fallback_);
}

std::vector<Metrics> FallbackBackend::evaluate(const Workload& workload,
                                               std::span<const double> saliency,
                                               std::span<const double> lambdas,
                                               const SteeringParams& params,
                                               const RunControl& control) {
    return run([&](Backend& backend) {
        return backend.evaluate(workload, saliency, lambdas, params, control);
    });
}

TokenRow FallbackBackend::row(const Workload& workload, std::span<const double> saliency,
                              const SteeringParams& params, int head, int query) {
    return run(
        [&](Backend& backend) { return backend.row(workload, saliency, params, head, query); });
}

} // namespace attnsteer
