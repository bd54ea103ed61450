// libFuzzer target: the dump readers, attnsteer::TensorFile::open (core/include/attnsteer/
// tensor_file.h) and readRows over every row of every layer: .npy, .npz (our zip directory
// parser, zlib's inflate into an unlinked temporary file) and .safetensors (nlohmann-json header),
// chosen by content as for a user's file.
// An InputError is the expected answer to a bad file; a crash, a sanitizer report, a hang or an
// oversized allocation is a finding, and so is an opened dump with a dimension below 1.

#include "fuzz_support.h"

#include "attnsteer/errors.h"
#include "attnsteer/tensor_file.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

namespace {

volatile float sink; // keeps the reads of the last values
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const fuzzsupport::MemoryFile file("fuzz.dump");
    file.assign(data, size);
    try {
        const std::shared_ptr<const attnsteer::TensorFile> dump =
            attnsteer::TensorFile::open(file.path());
        if (dump->layers() < 1 || dump->heads() < 1 || dump->queries() < 1 || dump->keys() < 1)
            __builtin_trap();
        const std::size_t keys = std::size_t(dump->keys());
        const std::size_t rows = std::size_t(dump->heads()) * std::size_t(dump->queries());
        // Blocks of at most 64 Ki values, as a backend reads them.
        const std::size_t block = std::max<std::size_t>(1, (std::size_t(1) << 16) / keys);
        std::vector<float> out(std::min(block, rows) * keys);
        float sum = 0;
        for (int layer = 0; layer < dump->layers(); ++layer)
            for (std::size_t first = 0; first < rows; first += block) {
                const std::size_t count = std::min(block, rows - first);
                dump->readRows(layer, first, count, out.data());
                sum += out[count * keys - 1]; // the last value written must be readable
            }
        (void)dump->dtype();
        (void)dump->layerNames();
        sink = sum;
    } catch (const attnsteer::InputError&) {
    }
    return 0;
}
