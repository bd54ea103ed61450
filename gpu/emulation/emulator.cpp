// The CPU emulation of the CUDA runtime declared in cuda_runtime.h beside this file.
//
// Own code rather than a library: Debian packages no CUDA emulator (nvcc's device emulation was
// removed in CUDA 3), and HIP-CPU, the closest project, speaks HIP rather than CUDA. The threads of
// a block are Boost.Context fibers on one host thread; a scheduler resumes them in thread order
// until each has finished or waits at a barrier, and releases a barrier once every live thread of
// its block (or warp) has arrived. A full round in which no thread can move means the threads wait
// at different barriers: on a GPU that kernel would hang or read garbage, here it is an error.
#include "cuda_runtime.h"

#include <boost/context/fiber.hpp>
#include <boost/context/stack_context.hpp>

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h> // VALGRIND_STACK_REGISTER: a no-op outside valgrind
#define ATTNSTEER_REGISTER_STACK(low, high) VALGRIND_STACK_REGISTER(low, high)
#else
#define ATTNSTEER_REGISTER_STACK(low, high) 0
#endif

// AddressSanitizer keeps one stack per thread; it is told of every switch between the scheduler's
// stack and a fiber's (see startSwitch below). Only in builds with ASan (clang's __has_feature,
// GCC's __SANITIZE_ADDRESS__).
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ATTNSTEER_ASAN_FIBERS 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(ATTNSTEER_ASAN_FIBERS)
#define ATTNSTEER_ASAN_FIBERS 1
#endif
#ifdef ATTNSTEER_ASAN_FIBERS
#include <sanitizer/common_interface_defs.h>
#endif

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

struct CUstream_st {};
struct CUevent_st {
    std::chrono::steady_clock::time_point time;
};

namespace attnsteer::cudaemu {
namespace {

namespace ctx = boost::context;

constexpr unsigned kWarpSize = 32;
constexpr unsigned kMaxBlockThreads = 1024;
constexpr std::size_t kStackBytes = std::size_t(128) << 10;

/// A stack's lowest address and size, as AddressSanitizer's fiber calls take them.
struct StackBounds {
    const void* bottom = nullptr;
    std::size_t size = 0;
};

/// Tells AddressSanitizer that this thread is about to switch to the stack TO; FAKE_STACK receives
/// the current stack's fake frames (stack-use-after-return), nullptr when the current stack is
/// left for good (a fiber that has finished). Then, on the other side, finishSwitch: FAKE_STACK
/// what startSwitch saved there (nullptr on a fiber's first entry), FROM receives the stack left
/// behind. Without the calls ASan would take a fiber's frames for the scheduler's: an exception
/// thrown on a fiber (the forced unwind of a fiber destroyed while waiting) would unpoison the
/// wrong range and warn of false positives to follow. No-ops in builds without ASan.
void startSwitch([[maybe_unused]] void** fakeStack, [[maybe_unused]] const StackBounds& to) {
#ifdef ATTNSTEER_ASAN_FIBERS
    __sanitizer_start_switch_fiber(fakeStack, to.bottom, to.size);
#endif
}

void finishSwitch([[maybe_unused]] void* fakeStack, [[maybe_unused]] StackBounds* from) {
#ifdef ATTNSTEER_ASAN_FIBERS
    __sanitizer_finish_switch_fiber(fakeStack, from ? &from->bottom : nullptr,
                                    from ? &from->size : nullptr);
#endif
}

/// Stacks of kStackBytes with a guard page below each, mapped once and reused: a launch of the
/// generator starts millions of fibers, and mapping a stack per fiber would dominate.
class StackPool {
  public:
    ctx::stack_context allocate() {
        if (free_.empty()) {
            const std::size_t page = std::size_t(sysconf(_SC_PAGESIZE));
            void* base = mmap(nullptr, kStackBytes + page, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
            if (base == MAP_FAILED)
                throw std::bad_alloc();
            mprotect(base, page, PROT_NONE); // an overflow faults instead of corrupting
            char* low = static_cast<char*>(base) + page;
            // Tells valgrind (when running under it) that switching to this stack is a fiber
            // switch, not a huge stack frame.
            (void)ATTNSTEER_REGISTER_STACK(low, low + kStackBytes);
            free_.push_back(low + kStackBytes);
        }
        ctx::stack_context stack;
        stack.sp = free_.back();
        stack.size = kStackBytes;
        free_.pop_back();
        return stack;
    }
    void deallocate(ctx::stack_context& stack) { free_.push_back(stack.sp); }

  private:
    std::vector<void*> free_; // tops of the unused stacks; mapped for the life of the process
};

/// Boost.Context takes its stack allocator by value: this one forwards to the pool, and records
/// the stack's bounds in BOUNDS for the switches to it.
struct PooledStack {
    StackPool* pool;
    StackBounds* bounds;
    ctx::stack_context allocate() {
        ctx::stack_context stack = pool->allocate();
        *bounds = {static_cast<char*>(stack.sp) - stack.size, stack.size};
        return stack;
    }
    void deallocate(ctx::stack_context& stack) { pool->deallocate(stack); }
};

/// Arrivals at one barrier (a block's __syncthreads or a warp's shuffle step).
struct Barrier {
    unsigned live = 0;    ///< threads that have not exited
    unsigned arrived = 0; ///< threads waiting in this generation
    std::uint64_t generation = 0;

    /// True when the caller was the last to arrive and has released the others.
    bool arrive() {
        if (++arrived < live)
            return false;
        arrived = 0;
        ++generation;
        return true;
    }
    void exit() {
        --live;
        if (arrived > 0 && arrived == live) {
            arrived = 0;
            ++generation;
        }
    }
};

struct EmulatedThread {
    ThreadPosition position;
    ctx::fiber fiber;          ///< resumes this thread
    ctx::fiber sink;           ///< inside the thread: resumes the scheduler
    StackBounds stack;         ///< the fiber's stack
    void* fakeStack = nullptr; ///< its ASan fake frames while it waits
    bool started = false;      ///< the fiber has been entered
    bool finished = false;
    const Barrier* waitingAt = nullptr;
    std::uint64_t waitingFor = 0; ///< the generation that releases it
};

struct Launch {
    const char* kernel = "";
    std::vector<EmulatedThread> threads;
    Barrier block;
    std::vector<Barrier> warps;
    std::vector<std::uint64_t> lanes; ///< shuffle slots, one per thread
    std::string error;                ///< the first misuse reported by a thread
    EmulatedThread* current = nullptr;
    StackBounds host;       ///< the scheduler's stack (the host thread's), for switches back to it
    bool cancelled = false; ///< the block failed: threads not started yet return at once
};

std::mutex launchMutex; // one launch at a time: blocks share the kernels' static "shared memory"
std::atomic<ThreadOrder> order{std::getenv("ATTNSTEER_EMULATOR_ORDER") &&
                                       std::string_view(std::getenv("ATTNSTEER_EMULATOR_ORDER")) ==
                                           "descending"
                                   ? ThreadOrder::Descending
                                   : ThreadOrder::Ascending};
StackPool stacks;
Launch* active = nullptr;
const ThreadPosition hostPosition{}; // what position() gives outside a launch

void yieldToScheduler(EmulatedThread& thread) {
    startSwitch(&thread.fakeStack, active->host);
    try {
        thread.sink = std::move(thread.sink).resume();
    } catch (...) {
        // Boost.Context's forced unwind: the fiber is being destroyed (unwindThreads).
        finishSwitch(thread.fakeStack, &active->host);
        throw;
    }
    finishSwitch(thread.fakeStack, &active->host);
}

/// The scheduler's side of running THREAD until it waits or finishes.
void resumeThread(EmulatedThread& thread) {
    void* fakeStack = nullptr;
    startSwitch(&fakeStack, thread.stack);
    thread.fiber = std::move(thread.fiber).resume();
    finishSwitch(fakeStack, nullptr);
}

/// Ends the threads of a failed block that have not finished, before the error leaves runBlock:
/// those never started return at once, those waiting are unwound by destroying their fibers
/// (Boost.Context throws forced_unwind in them), each switch announced to ASan.
void unwindThreads(Launch& launch) {
    launch.cancelled = true;
    for (EmulatedThread& thread : launch.threads) {
        if (!thread.fiber)
            continue;
        if (!thread.started) {
            resumeThread(thread);
            continue;
        }
        void* fakeStack = nullptr;
        startSwitch(&fakeStack, thread.stack);
        thread.fiber = ctx::fiber();
        finishSwitch(fakeStack, nullptr);
    }
}

void waitAt(Barrier& barrier) {
    EmulatedThread& thread = *active->current;
    const std::uint64_t generation = barrier.generation;
    if (barrier.arrive())
        return;
    thread.waitingAt = &barrier;
    thread.waitingFor = generation + 1;
    while (barrier.generation < thread.waitingFor)
        yieldToScheduler(thread);
    thread.waitingAt = nullptr;
}

unsigned threadIndex(const ThreadPosition& p) {
    return p.thread.x + p.blockSize.x * (p.thread.y + p.blockSize.y * p.thread.z);
}

/// Throws MESSAGE, printed first: a test framework may show only that an exception was caught.
[[noreturn]] void fail(const std::string& message) {
    std::fprintf(stderr, "%s\n", message.c_str());
    throw std::runtime_error(message);
}

std::string describe(const Launch& launch, const uint3& block) {
    return std::string("cuda emulator: ") + launch.kernel + ", block (" + std::to_string(block.x) +
           "," + std::to_string(block.y) + "," + std::to_string(block.z) + "): ";
}

void runBlock(Launch& launch, const uint3& blockIndex, dim3 grid, dim3 blockSize,
              const std::function<void()>& body) {
    const unsigned count = blockSize.x * blockSize.y * blockSize.z;
    launch.threads.clear();
    launch.threads.resize(count);
    launch.block = Barrier{count};
    launch.warps.assign((count + kWarpSize - 1) / kWarpSize, Barrier{});
    for (unsigned i = 0; i < count; ++i)
        ++launch.warps[i / kWarpSize].live;
    launch.lanes.assign(count, 0);

    for (unsigned i = 0; i < count; ++i) {
        EmulatedThread& thread = launch.threads[i];
        thread.position = {
            {i % blockSize.x, i / blockSize.x % blockSize.y, i / (blockSize.x * blockSize.y)},
            blockIndex,
            blockSize,
            grid};
        thread.fiber = ctx::fiber(std::allocator_arg, PooledStack{&stacks, &thread.stack},
                                  [&launch, &thread, &body, i](ctx::fiber&& sink) {
                                      finishSwitch(nullptr, &launch.host);
                                      thread.started = true;
                                      thread.sink = std::move(sink);
                                      if (!launch.cancelled) {
                                          try {
                                              body();
                                          } catch (...) {
                                              // forced_unwind: this stack is left for good
                                              startSwitch(nullptr, launch.host);
                                              throw;
                                          }
                                          thread.finished = true;
                                          launch.block.exit();
                                          launch.warps[i / kWarpSize].exit();
                                      }
                                      startSwitch(nullptr, launch.host);
                                      return std::move(thread.sink);
                                  });
    }

    const bool descending = threadOrder() == ThreadOrder::Descending;
    unsigned finished = 0;
    while (finished < count) {
        bool moved = false;
        for (unsigned i = 0; i < count; ++i) {
            EmulatedThread& thread = launch.threads[descending ? count - 1 - i : i];
            if (thread.finished ||
                (thread.waitingAt && thread.waitingAt->generation < thread.waitingFor))
                continue;
            launch.current = &thread;
            resumeThread(thread);
            launch.current = nullptr;
            moved = true;
            if (thread.finished)
                ++finished;
            if (!launch.error.empty()) {
                unwindThreads(launch);
                fail(describe(launch, blockIndex) + launch.error);
            }
        }
        if (!moved) {
            unsigned atBlock = 0;
            for (const EmulatedThread& thread : launch.threads)
                atBlock += !thread.finished && thread.waitingAt == &launch.block;
            unwindThreads(launch);
            fail(describe(launch, blockIndex) + "threads wait at different barriers (" +
                 std::to_string(atBlock) + " at __syncthreads, " +
                 std::to_string(count - finished - atBlock) + " at a warp shuffle, " +
                 std::to_string(finished) + " exited)");
        }
    }
}

} // namespace

void setThreadOrder(ThreadOrder newOrder) {
    order = newOrder;
}

ThreadOrder threadOrder() {
    return order;
}

const ThreadPosition& position() {
    return active && active->current ? active->current->position : hostPosition;
}

void launch(dim3 grid, dim3 block, const char* kernel, const std::function<void()>& body) {
    const unsigned count = block.x * block.y * block.z;
    if (count == 0 || count > kMaxBlockThreads || grid.x * grid.y * grid.z == 0)
        fail(std::string("cuda emulator: ") + kernel + ": invalid launch configuration");
    std::lock_guard lock(launchMutex);
    Launch state;
    state.kernel = kernel;
    active = &state;
    try {
        for (unsigned z = 0; z < grid.z; ++z)
            for (unsigned y = 0; y < grid.y; ++y)
                for (unsigned x = 0; x < grid.x; ++x)
                    runBlock(state, {x, y, z}, grid, block, body);
    } catch (...) {
        active = nullptr;
        throw;
    }
    active = nullptr;
}

void syncThreads() {
    waitAt(active->block);
}

std::uint64_t shuffleXor(unsigned mask, std::uint64_t bits, int laneMask) {
    Launch& launch = *active;
    const unsigned index = threadIndex(launch.current->position);
    const unsigned warp = index / kWarpSize, lane = index % kWarpSize;
    if (mask != 0xffffffffu && launch.error.empty())
        launch.error = "__shfl_xor_sync with a mask other than the full warp";
    launch.lanes[index] = bits;
    waitAt(launch.warps[warp]);
    const unsigned partner = warp * kWarpSize + (lane ^ unsigned(laneMask));
    if ((partner >= launch.threads.size() || launch.threads[partner].finished) &&
        launch.error.empty())
        launch.error = "__shfl_xor_sync reads lane " + std::to_string(partner % kWarpSize) +
                       ", which has exited or does not exist";
    const std::uint64_t result = partner < launch.lanes.size() ? launch.lanes[partner] : 0;
    waitAt(launch.warps[warp]); // nobody overwrites a slot before its partner has read it
    return result;
}

std::size_t deviceMemory() {
    static const std::size_t bytes = [] {
        const char* text = std::getenv(kMemoryVariable);
        const unsigned long long mib = text ? std::strtoull(text, nullptr, 10) : 0;
        return std::size_t(mib > 0 ? mib : 4096) << 20;
    }();
    return bytes;
}

} // namespace attnsteer::cudaemu

namespace {

using attnsteer::cudaemu::deviceMemory;

std::mutex memoryMutex;
std::map<void*, std::size_t> allocations;
std::size_t allocatedBytes = 0;

} // namespace

cudaError_t cudaGetDeviceCount(int* count) {
    *count = 1;
    return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* properties, int device) {
    if (device != 0)
        return cudaErrorInvalidValue;
    *properties = {};
    std::strncpy(properties->name, attnsteer::cudaemu::kDeviceName, sizeof(properties->name) - 1);
    properties->totalGlobalMem = deviceMemory();
    properties->multiProcessorCount = 2;
    properties->major = 9;
    properties->minor = 0;
    return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) {
    return device == 0 ? cudaSuccess : cudaErrorInvalidValue;
}

cudaError_t cudaGetLastError() {
    return cudaSuccess; // launch() reports its errors by throwing
}

const char* cudaGetErrorString(cudaError_t error) {
    switch (error) {
    case cudaSuccess:
        return "no error";
    case cudaErrorInvalidValue:
        return "invalid argument";
    case cudaErrorMemoryAllocation:
        return "out of memory";
    case cudaErrorInsufficientDriver:
        return "CUDA driver version is insufficient for CUDA runtime version";
    case cudaErrorNoDevice:
        return "no CUDA-capable device is detected";
    case cudaErrorLaunchFailure:
        return "unspecified launch failure";
    }
    return "unknown error";
}

cudaError_t cudaMalloc(void** pointer, std::size_t bytes) {
    std::lock_guard lock(memoryMutex);
    *pointer = nullptr;
    if (bytes > deviceMemory() - allocatedBytes)
        return cudaErrorMemoryAllocation;
    // 256-byte alignment, as cudaMalloc guarantees (generate.cu stores float4s), and exactly BYTES
    // so that valgrind sees a read past the end.
    void* memory = nullptr;
    if (posix_memalign(&memory, 256, std::max<std::size_t>(bytes, 1)) != 0)
        return cudaErrorMemoryAllocation;
    allocations[memory] = bytes;
    allocatedBytes += bytes;
    *pointer = memory;
    return cudaSuccess;
}

cudaError_t cudaFree(void* pointer) {
    if (!pointer)
        return cudaSuccess;
    std::lock_guard lock(memoryMutex);
    const auto found = allocations.find(pointer);
    if (found == allocations.end())
        return cudaErrorInvalidValue;
    allocatedBytes -= found->second;
    allocations.erase(found);
    std::free(pointer);
    return cudaSuccess;
}

cudaError_t cudaMallocHost(void** pointer, std::size_t bytes) {
    *pointer = std::malloc(std::max<std::size_t>(bytes, 1));
    return *pointer ? cudaSuccess : cudaErrorMemoryAllocation;
}

cudaError_t cudaFreeHost(void* pointer) {
    std::free(pointer);
    return cudaSuccess;
}

cudaError_t cudaMemGetInfo(std::size_t* free, std::size_t* total) {
    std::lock_guard lock(memoryMutex);
    *free = deviceMemory() - allocatedBytes;
    *total = deviceMemory();
    return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* destination, const void* source, std::size_t bytes,
                            cudaMemcpyKind, cudaStream_t) {
    if (bytes > 0)
        std::memcpy(destination, source, bytes);
    return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void* destination, int value, std::size_t bytes, cudaStream_t) {
    std::memset(destination, value, bytes);
    return cudaSuccess;
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned) {
    *stream = new CUstream_st;
    return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t) {
    return cudaSuccess;
}

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
    delete stream;
    return cudaSuccess;
}

cudaError_t cudaEventCreate(cudaEvent_t* event) {
    *event = new CUevent_st;
    return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t) {
    event->time = std::chrono::steady_clock::now();
    return cudaSuccess;
}

cudaError_t cudaEventElapsedTime(float* milliseconds, cudaEvent_t start, cudaEvent_t end) {
    *milliseconds = std::chrono::duration<float, std::milli>(end->time - start->time).count();
    return cudaSuccess;
}

cudaError_t cudaEventDestroy(cudaEvent_t event) {
    delete event;
    return cudaSuccess;
}
