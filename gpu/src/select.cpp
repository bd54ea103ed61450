// Backend selection, shared by the CUDA build and the stub.
#include "attnsteer/errors.h"
#include "attnsteer/gpu.h"

namespace attnsteer::gpu {

std::optional<BackendChoice> parseBackendChoice(std::string_view name) {
    if (name == "cpu")
        return BackendChoice::Cpu;
    if (name == "cuda")
        return BackendChoice::Cuda;
    if (name == "auto")
        return BackendChoice::Auto;
    return std::nullopt;
}

std::string_view backendChoiceName(BackendChoice choice) {
    switch (choice) {
    case BackendChoice::Cpu:
        return "cpu";
    case BackendChoice::Cuda:
        return "cuda";
    case BackendChoice::Auto:
        break;
    }
    return "auto";
}

BackendSelection selectBackend(BackendChoice choice, int cpuThreads) {
    BackendSelection selection;
    if (choice == BackendChoice::Cuda) {
        selection.backend = makeCudaBackend();
    } else if (choice == BackendChoice::Auto && isAvailable()) {
        try {
            selection.backend = makeCudaBackend();
        } catch (const InputError&) {
            // The device went away between the probe and the start: fall through to the CPU.
        } catch (const DeviceError&) {
            // It is there but failed to start (no stream, no events): likewise.
        }
    }
    if (!selection.backend) {
        if (choice == BackendChoice::Auto) {
            const std::string reason = unavailableReason();
            selection.notice = "no CUDA device (" +
                               (reason.empty() ? std::string("it could not be started") : reason) +
                               "); using the CPU backend";
        }
        selection.backend = makeCpuBackend(cpuThreads);
    }
    return selection;
}

void checkCudaAttention(const attention::AttentionParams& params) {
    attention::checkSizes(params);
    if (params.headDim > kMaxCudaHeadDim)
        throw settingError("head-dim", "must be at most " + std::to_string(kMaxCudaHeadDim) +
                                           " on the CUDA backend");
}

} // namespace attnsteer::gpu
