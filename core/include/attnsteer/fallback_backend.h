#pragma once
// A backend that falls back to another when its device fails: the command line's `--backend auto`
// and the window's CUDA choice both run through it.

#include "attnsteer/backend.h"

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

namespace attnsteer {

/// Runs every call on PRIMARY until PRIMARY throws DeviceError (out of device memory, a failed
/// launch): then that call, and every later one, runs on FALLBACK, and ON_FALL_BACK(reason) is
/// called once, from the calling thread, with the DeviceError's one-line message. Other
/// exceptions (InputError, Cancelled) pass through unchanged. Safe to call from several threads
/// when both backends are.
class FallbackBackend final : public Backend {
  public:
    using Notify = std::function<void(const std::string& reason)>;
    FallbackBackend(std::shared_ptr<Backend> primary, std::shared_ptr<Backend> fallback,
                    Notify onFallBack = {});

    /// The name of the backend that the next call uses.
    std::string name() const override;
    /// True once PRIMARY failed.
    bool fellBack() const { return fellBack_.load(); }

    using Backend::evaluate;
    std::vector<Metrics> evaluate(const Workload& workload, std::span<const double> saliency,
                                  std::span<const double> lambdas, const SteeringParams& params,
                                  const RunControl& control = {}) override;
    TokenRow row(const Workload& workload, std::span<const double> saliency,
                 const SteeringParams& params, int head, int query) override;

  private:
    template <typename Call> auto run(Call&& call);

    std::shared_ptr<Backend> primary_, fallback_;
    Notify onFallBack_;
    std::atomic<bool> fellBack_{false};
    std::once_flag notified_;
};

} // namespace attnsteer
