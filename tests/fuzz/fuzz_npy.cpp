// libFuzzer target: attnsteer::readNpy (core/include/attnsteer/npy.h) on any bytes.
// An InputError is the expected answer to a bad file; a crash, a sanitizer report, a hang or an
// oversized allocation is a finding. The array read must hold as many values as its shape says.

#include "fuzz_support.h"

#include "attnsteer/errors.h"
#include "attnsteer/npy.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const fuzzsupport::MemoryFile file("fuzz.npy");
    file.assign(data, size);
    try {
        const attnsteer::NpyArray array = attnsteer::readNpy(file.path());
        std::size_t product = 1;
        for (std::size_t side : array.shape)
            product *= side;
        if (array.data.size() != array.elementCount() || array.data.size() != product ||
            (array.sourceBytesPerElement != 2 && array.sourceBytesPerElement != 4 &&
             array.sourceBytesPerElement != 8))
            __builtin_trap();
    } catch (const attnsteer::InputError&) {
    }
    return 0;
}
