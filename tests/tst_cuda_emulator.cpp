// The CPU emulation of CUDA (gpu/emulation/) that tst_backends_emulated runs the CUDA backend on:
// thread and block indices, shared memory, barriers and shuffles give what a GPU gives, and the
// misuses a GPU would turn into hangs or garbage are reported with the kernel and block.
#include <QTest>

#include "cuda_runtime.h" // gpu/emulation's, after Qt: it defines threadIdx and friends as macros

#include <algorithm>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

using attnsteer::cudaemu::launch;

namespace {

constexpr unsigned kFull = 0xffffffffu;

/// What launch() threw, or "" when it returned.
QString launchError(dim3 grid, dim3 block, const char* kernel, const std::function<void()>& body) {
    try {
        launch(grid, block, kernel, body);
    } catch (const std::runtime_error& error) {
        return QString::fromStdString(error.what());
    }
    return {};
}

/// The sum over the block of VALUE: warp butterflies, then the warps' sums through shared memory.
double blockSum(double value) {
    __shared__ double warpSums[32];
    for (int offset = 16; offset > 0; offset /= 2)
        value += __shfl_xor_sync(kFull, value, offset);
    const unsigned thread = threadIdx.x + blockDim.x * threadIdx.y;
    if (thread % 32 == 0)
        warpSums[thread / 32] = value;
    __syncthreads();
    double total = 0;
    for (unsigned warp = 0; warp < blockDim.x * blockDim.y / 32; ++warp)
        total += warpSums[warp];
    __syncthreads();
    return total;
}

/// The scheduler's thread order for one scope (the default may come from the environment).
class ThreadOrderScope {
  public:
    explicit ThreadOrderScope(attnsteer::cudaemu::ThreadOrder order)
        : before_(attnsteer::cudaemu::threadOrder()) {
        attnsteer::cudaemu::setThreadOrder(order);
    }
    ~ThreadOrderScope() { attnsteer::cudaemu::setThreadOrder(before_); }
    ThreadOrderScope(const ThreadOrderScope&) = delete;
    ThreadOrderScope& operator=(const ThreadOrderScope&) = delete;

  private:
    attnsteer::cudaemu::ThreadOrder before_;
};

} // namespace

class TestCudaEmulator : public QObject {
    Q_OBJECT

  private slots:
    void indicesCoverTheGrid() {
        const dim3 grid(3, 2), block(64, 2);
        std::vector<int> seen(3 * 2 * 64 * 2, 0);
        std::vector<double> sums(6, -1);
        launch(grid, block, "indices", [&] {
            QCOMPARE(blockDim.x, 64u);
            QCOMPARE(blockDim.y, 2u);
            QCOMPARE(gridDim.x, 3u);
            QCOMPARE(gridDim.y, 2u);
            const unsigned blockNumber = blockIdx.x + gridDim.x * blockIdx.y;
            const unsigned thread = threadIdx.x + blockDim.x * threadIdx.y;
            ++seen[blockNumber * 128 + thread];
            // Every thread contributes its number: the block's sum is 0 + 1 + ... + 127.
            const double total = blockSum(double(thread));
            if (thread == 0)
                sums[blockNumber] = total + 1000.0 * blockNumber;
        });
        QCOMPARE(seen, std::vector<int>(seen.size(), 1));
        for (unsigned b = 0; b < 6; ++b)
            QCOMPARE(sums[b], 127.0 * 128.0 / 2.0 + 1000.0 * b);
    }

    void shuffleXorSwapsLanes() {
        std::vector<float> got(32);
        std::vector<double> butterfly(32);
        launch(1, 32, "shuffle", [&] {
            const unsigned lane = threadIdx.x;
            got[lane] = __shfl_xor_sync(kFull, float(lane) + 0.5f, 5);
            double value = lane;
            for (int offset = 16; offset > 0; offset /= 2)
                value += __shfl_xor_sync(kFull, value, offset);
            butterfly[lane] = value;
        });
        for (unsigned lane = 0; lane < 32; ++lane)
            QCOMPARE(got[lane], float(lane ^ 5u) + 0.5f);
        QCOMPARE(butterfly, std::vector<double>(32, 31.0 * 32.0 / 2.0));
    }

    void missingBarrierShowsAsWrongValues_data() {
        using attnsteer::cudaemu::ThreadOrder;
        QTest::addColumn<ThreadOrder>("order");
        QTest::addColumn<bool>("barrier");
        QTest::addColumn<QList<int>>("expected"); // what threads 0, 1, 62 and 63 read
        // Threads run until they wait, and the last to reach a barrier runs on. Ascending: each
        // thread reads its neighbour's cell before the neighbour has run; thread 63, the last at
        // the first barrier, reads cell 0 before thread 0 writes it. Descending: only thread 0,
        // the last at the barrier, runs ahead of its neighbour.
        QTest::newRow("ascending, barrier") << ThreadOrder::Ascending << true << QList{1, 2, 63, 0};
        QTest::newRow("ascending, no barrier")
            << ThreadOrder::Ascending << false << QList{-1, -1, 63, -1};
        QTest::newRow("descending, barrier")
            << ThreadOrder::Descending << true << QList{1, 2, 63, 0};
        QTest::newRow("descending, no barrier")
            << ThreadOrder::Descending << false << QList{-1, 2, 63, 0};
    }

    void missingBarrierShowsAsWrongValues() {
        // Each thread writes its cell and reads its neighbour's, with or without a barrier
        // between; then a block sum, the same in either order.
        QFETCH(attnsteer::cudaemu::ThreadOrder, order);
        QFETCH(bool, barrier);
        QFETCH(QList<int>, expected);
        const ThreadOrderScope scope(order);
        std::vector<int> read(64);
        std::vector<double> sums(2);
        launch(2, 64, "neighbour", [&] {
            __shared__ int cells[64];
            if (threadIdx.x == 0)
                std::fill(cells, cells + 64, -1);
            __syncthreads();
            cells[threadIdx.x] = int(threadIdx.x);
            if (barrier)
                __syncthreads();
            read[threadIdx.x] = cells[(threadIdx.x + 1) % 64];
            const double total = blockSum(double(threadIdx.x));
            if (threadIdx.x == 0)
                sums[blockIdx.x] = total;
        });
        QCOMPARE((QList{read[0], read[1], read[62], read[63]}), expected);
        QCOMPARE(sums, std::vector<double>(2, 63.0 * 64.0 / 2.0));
    }

    void divergentBarriersAreReported() {
        // Odd lanes wait at a shuffle, even lanes at __syncthreads: on a GPU, a hang.
        QCOMPARE(launchError(1, 64, "divergent",
                             [] {
                                 if (threadIdx.x % 2)
                                     __shfl_xor_sync(kFull, 1.0, 1);
                                 else
                                     __syncthreads();
                             }),
                 QStringLiteral("cuda emulator: divergent, block (0,0,0): threads wait at "
                                "different barriers (32 at __syncthreads, 32 at a warp shuffle, "
                                "0 exited)"));
        // The emulator stays usable after a failed launch.
        int ran = 0;
        launch(2, 32, "after", [&] { ++ran; });
        QCOMPARE(ran, 64);
    }

    void shuffleMisuseIsReported() {
        QCOMPARE(launchError(dim3(2), 32, "exited",
                             [] {
                                 if (blockIdx.x == 1 && threadIdx.x >= 16)
                                     return;
                                 __shfl_xor_sync(kFull, 1, 16);
                             }),
                 QStringLiteral("cuda emulator: exited, block (1,0,0): __shfl_xor_sync reads lane "
                                "16, which has exited or does not exist"));
        QCOMPARE(launchError(1, 32, "mask", [] { __shfl_xor_sync(0xffffu, 1, 1); }),
                 QStringLiteral("cuda emulator: mask, block (0,0,0): __shfl_xor_sync with a mask "
                                "other than the full warp"));
        QCOMPARE(launchError(1, 2048, "huge", [] {}),
                 QStringLiteral("cuda emulator: huge: invalid launch configuration"));
    }

    void deviceMemoryIsBounded() {
        std::size_t free = 0, total = 0;
        QCOMPARE(cudaMemGetInfo(&free, &total), cudaSuccess);
        QCOMPARE(total, std::size_t(4096) << 20); // ATTNSTEER_EMULATED_DEVICE_MIB unset
        const std::size_t before = free;
        void* block = nullptr;
        QCOMPARE(cudaMalloc(&block, 1000), cudaSuccess);
        QCOMPARE(reinterpret_cast<std::uintptr_t>(block) % 256, std::uintptr_t(0));
        QCOMPARE(cudaMemGetInfo(&free, &total), cudaSuccess);
        QCOMPARE(free, before - 1000);
        void* tooLarge = &free;
        QCOMPARE(cudaMalloc(&tooLarge, before), cudaErrorMemoryAllocation);
        QCOMPARE(tooLarge, nullptr);
        QCOMPARE(cudaFree(block), cudaSuccess);
        QCOMPARE(cudaMemGetInfo(&free, &total), cudaSuccess);
        QCOMPARE(free, before);
        int notFromMalloc = 0;
        QCOMPARE(cudaFree(&notFromMalloc), cudaErrorInvalidValue);
    }
};

QTEST_GUILESS_MAIN(TestCudaEmulator)
#include "tst_cuda_emulator.moc"
