// Concurrent reads of attention dumps, for ThreadSanitizer (scripts/sanitize tsan): what
// tst_tensor_file's concurrentReads checks, for the dumps given as arguments, in a program that
// starts no process. (tst_tensor_file writes its fixtures with python3 through QProcess, which
// clang 14's ThreadSanitizer cannot follow: its clone interceptor fails a CHECK in the child.)
//
//   tsan_tensor_file DUMP...
//
// Each dump is read once on this thread, then by 4 threads at once, 5 times each with different
// block sizes, from one TensorFile (pread on one descriptor, a buffer per thread); every read
// must give the same bits. Exits 1 on a difference or an error.

#include "attnsteer/errors.h"
#include "attnsteer/tensor_file.h"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <thread>
#include <vector>

namespace {

using attnsteer::TensorFile;

/// Every row of every layer of FILE, read BLOCK rows at a time.
std::vector<float> readAll(const TensorFile& file, std::size_t block) {
    const std::size_t rows = std::size_t(file.heads()) * std::size_t(file.queries());
    const std::size_t keys = std::size_t(file.keys());
    std::vector<float> all(std::size_t(file.layers()) * rows * keys);
    for (int layer = 0; layer < file.layers(); ++layer)
        for (std::size_t first = 0; first < rows; first += block)
            file.readRows(layer, first, std::min(block, rows - first),
                          all.data() + (std::size_t(layer) * rows + first) * keys);
    return all;
}

bool sameBits(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: tsan_tensor_file DUMP...\n");
        return 2;
    }
    struct Case {
        std::shared_ptr<const TensorFile> file;
        std::vector<float> want;
    };
    std::vector<Case> cases;
    try {
        for (int i = 1; i < argc; ++i) {
            auto file = TensorFile::open(argv[i]);
            cases.push_back({file, readAll(*file, 1)});
        }
    } catch (const attnsteer::InputError& error) {
        std::fprintf(stderr, "tsan_tensor_file: %s\n", error.what());
        return 1;
    }
    std::atomic<int> differ{0}, failed{0};
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < 4; ++t)
        threads.emplace_back([&, t] {
            try {
                for (std::size_t repeat = 0; repeat < 5; ++repeat)
                    for (const Case& c : cases)
                        differ += !sameBits(readAll(*c.file, 1 + 2 * t + repeat), c.want);
            } catch (const std::exception& error) {
                std::fprintf(stderr, "tsan_tensor_file: %s\n", error.what());
                ++failed;
            }
        });
    for (std::thread& thread : threads)
        thread.join();
    std::printf("tsan_tensor_file: %zu dumps, 4 threads x 5 rounds: %d differences, %d errors\n",
                cases.size(), differ.load(), failed.load());
    return differ == 0 && failed == 0 ? 0 : 1;
}
